import { randomBytes } from 'node:crypto';
import { SlipwayError } from '../errors.js';

/** Container names as Docker accepts them, at most 63 characters (they are also the default hostname). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function checkContainerName(name: string): string {
  if (!NAME.test(name)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `container name "${name}" must start with a letter or digit and hold only letters, digits, "_", "." and "-" (at most 63)`,
      {
        detail: { name },
      },
    );
  }
  return name;
}

/**
 * A fresh name from the image reference: its last path component without tag or
 * digest, and a random suffix, e.g. "debian-4f9c1a".
 */
export function generateContainerName(image: string): string {
  const base = (image.split('@')[0]!.split('/').pop() ?? '')
    .split(':')[0]!
    .replace(/[^a-zA-Z0-9_.-]/g, '')
    .replace(/^[^a-zA-Z0-9]+/, '')
    .slice(0, 48);
  return `${base || 'container'}-${randomBytes(3).toString('hex')}`;
}
