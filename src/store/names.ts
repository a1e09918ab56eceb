import { SlipwayError } from '../errors.js';
import { isValidTag, parseRepositoryName } from '../oci/reference.js';

/**
 * Repository names and tags are checked where they enter the store (with the
 * grammar of oci/reference.ts), so nothing else can end up in the catalog.
 */
export function checkRepository(name: string): string {
  return parseRepositoryName(name);
}

export function checkTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new SlipwayError(
      'INVALID_REFERENCE',
      `invalid tag "${tag}": use up to 128 letters, digits, _ . -, not starting with . or -`,
      {
        detail: { tag },
      },
    );
  }
  return tag;
}
