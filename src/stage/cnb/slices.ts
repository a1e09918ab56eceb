/**
 * A matcher for launch.toml `[[slices]] paths` (Go filepath.Match globs, relative to
 * the app dir): `*` and `?` stay within one path segment; a match on a directory
 * takes everything under it. Paths given to the matcher start with "/".
 */
export function sliceMatcher(globs: string[]): (path: string) => boolean {
  const patterns = globs.map((g) => globToRegExp(g.replace(/^\.?\/+/, '').replace(/\/+$/, '')));
  return (path) => {
    const rel = path.replace(/^\/+/, '');
    const parts = rel.split('/');
    return patterns.some((re) => parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/'))));
  };
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        out += `[${glob
          .slice(i + 1, end)
          .replace(/^\^|^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) out += escapeRegExp(glob[++i]!);
    else out += escapeRegExp(c);
  }
  return new RegExp(`^${out}$`);
}

function escapeRegExp(c: string): string {
  return c.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
}
