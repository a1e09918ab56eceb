import { SlipwayError } from '../errors.js';

/**
 * The distribution spec's grammar for repository names and tags, checked where they
 * enter the store so nothing else can end up in the catalog.
 */
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const MAX_REPOSITORY_LENGTH = 255;

export function checkRepository(name: string): string {
  if (name.length > MAX_REPOSITORY_LENGTH || !REPOSITORY.test(name)) {
    throw new SlipwayError('INVALID_REFERENCE', `invalid repository name "${name}": use lowercase letters, digits and separators (. _ __ -), path components joined by /, at most ${MAX_REPOSITORY_LENGTH} characters`, {
      detail: { repository: name },
    });
  }
  return name;
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) {
    throw new SlipwayError('INVALID_REFERENCE', `invalid tag "${tag}": use up to 128 letters, digits, _ . -, not starting with . or -`, {
      detail: { tag },
    });
  }
  return tag;
}
