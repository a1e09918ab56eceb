/** The cf CLI's text layouts: key-value tables, tables with a header, times. */

/** Keys and values, the values lined up three spaces after the longest key (cf's DisplayKeyValueTable). */
export function keyValueTable(rows: [string, string][]): string {
  const width = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => (v === '' ? k : `${k.padEnd(width)}   ${v}`)).join('\n');
}

/** A header row and rows, columns three spaces apart, no trailing blanks (cf's DisplayTableWithHeader). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A time as `cf events` prints it: local time, hundredths of a second, the offset (2006-01-02T15:04:05.00-0700). */
export function cfTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:` +
    `${p(d.getSeconds())}.${p(d.getMilliseconds() / 10)}${sign}${p(offset / 60)}${p(offset % 60)}`
  );
}
