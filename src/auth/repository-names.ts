/**
 * Repository names as clients see them, and as the store keeps them. The toolkit's
 * registry keeps names as they are; the platform keeps an app's images under its GUID
 * and gives them the alias ORG/SPACE/APP, so a rename moves the alias, not the images.
 * Authorization always sees the public name.
 */
export interface RepositoryNames {
  /** The stored repository a public name stands for (the name itself when no alias applies). */
  stored(name: string): Promise<string>;
  /** The public name of a stored repository; undefined when it has none any more (a deleted app's). */
  public(stored: string): Promise<string | undefined>;
  /** The public names of these stored repositories that the subject may see listed (the catalog), in order. */
  listed(subject: string | undefined, stored: string[]): Promise<string[]>;
}

/** Names as they are: the toolkit's registry. */
export const SAME_NAMES: RepositoryNames = {
  stored: async (name) => name,
  public: async (stored) => stored,
  listed: async (_subject, stored) => stored,
};
