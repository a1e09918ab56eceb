import { SlipwayError } from '../../errors.js';

/** Sizes as the cf CLI reads and prints them (code.cloudfoundry.org/bytefmt). */

const UNITS: [string, number][] = [
  ['T', 1024 ** 4],
  ['G', 1024 ** 3],
  ['M', 1024 ** 2],
  ['K', 1024],
  ['B', 1],
];

/** bytefmt.ByteSize: 268435456 -> "256M", 12939264 -> "12.3M", 0 -> "0". */
export function byteSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '0';
  for (const [unit, size] of UNITS) if (bytes >= size) return `${(bytes / size).toFixed(1).replace(/\.0$/, '')}${unit}`;
  return '0';
}

/** bytefmt.ToMegabytes: "256M", "1G", "1024MB" -> megabytes; a number without a unit is refused, as the cf CLI does. */
export function megabytes(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT])I?B?\s*$/i.exec(text);
  if (!m)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Incorrect Usage: invalid argument for flag '${flag}': ${JSON.stringify(text)}: byte quantity must be a positive integer with a unit of measurement like M, MB, G, or GB`,
    );
  const value = Number(m[1]);
  const unit = m[2]!.toUpperCase();
  const mb = unit === 'K' ? value / 1024 : unit === 'M' ? value : unit === 'G' ? value * 1024 : value * 1024 * 1024;
  if (mb < 1 || !Number.isInteger(Math.round(mb)))
    throw new SlipwayError('INVALID_ARGUMENT', `Incorrect Usage: ${flag} must be at least 1M`);
  return Math.round(mb);
}

/** A positive integer flag (-i, --max-in-flight). */
export function positiveInt(text: string, flag: string, min = 0): number {
  if (!/^\d+$/.test(text) || Number(text) < min)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Incorrect Usage: invalid argument for flag '${flag}': expected an integer ${min > 0 ? `of at least ${min}` : 'of 0 or more'}, got ${JSON.stringify(text)}`,
    );
  return Number(text);
}
