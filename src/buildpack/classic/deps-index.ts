/**
 * The IDX of buildpack `i` among `n` (buildpackapplifecycle DepsIndex): zero-padded to
 * the digits of n, so 1-9 buildpacks give "0".."8", 10-99 give "00".."98".
 *
 * @example depsIndex(3, 12) // "03"
 */
export function depsIndex(i: number, n: number): string {
  const digits = Math.floor(Math.log10(Math.max(n, 1))) + 1;
  return String(i).padStart(digits, '0');
}
