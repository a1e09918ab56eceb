import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import yauzl from 'yauzl';
import { SlipwayError } from '../errors.js';
import type { AdvisoryRow } from './advisory.js';
import { trackerRows } from './debian-tracker.js';
import { osvRows } from './osv.js';
import { VulnDb } from './vuln-db.js';

export interface ImportReport {
  source: string;
  kind: 'debian-tracker' | 'osv';
  location: string;
  /** The input is byte for byte what was imported last time: nothing was read into the database. */
  unchanged: boolean;
  records: number;
  added: number;
  changed: number;
  removed: number;
  /** Advisory rows the source holds now. */
  total: number;
  ms: number;
}

/**
 * Imports vulnerability data into the store's database from a file or an http(s) URL:
 * the Debian Security Tracker's JSON (replacing what the tracker said before), an OSV
 * record, a JSON array of them, or a zip of them (OSV's `all.zip` per ecosystem; OSV
 * records are added or updated, never dropped by a later import). Incremental: the
 * same bytes are not read twice, and unchanged rows are not rewritten.
 *
 * @example await importAdvisories(store.home, 'https://security-tracker.debian.org/tracker/data/json');
 */
export async function importAdvisories(home: string, location: string): Promise<ImportReport> {
  const started = Date.now();
  const bytes = await load(location);
  const fingerprint = createHash('sha256').update(bytes).digest('hex');
  const zip = bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  let kind: ImportReport['kind'];
  let records: number;
  let rows: AdvisoryRow[];
  if (zip) {
    kind = 'osv';
    const docs = await zipJsonEntries(bytes, location);
    records = docs.length;
    rows = docs.flatMap(([name, doc]) => osvRows(doc, `${location}: ${name}`));
  } else {
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `${location} is neither JSON nor a zip: give the Debian tracker's JSON, an OSV record, or a zip of OSV records`,
        { cause: err },
      );
    }
    if (Array.isArray(doc)) {
      kind = 'osv';
      records = doc.length;
      rows = doc.flatMap((d, i) => osvRows(d, `${location}: record ${i + 1}`));
    } else if (typeof doc === 'object' && doc !== null && typeof (doc as { id?: unknown }).id === 'string') {
      kind = 'osv';
      records = 1;
      rows = osvRows(doc, location);
    } else {
      kind = 'debian-tracker';
      rows = trackerRows(doc);
      records = new Set(rows.map((r) => `${r.package} ${r.id}`)).size;
    }
  }
  const source = kind === 'debian-tracker' ? 'debian-tracker' : `osv:${basename(location)}`;
  const db = VulnDb.open(home);
  try {
    const before = db.source(source);
    if (before?.fingerprint === fingerprint) {
      return {
        source,
        kind,
        location,
        unchanged: true,
        records,
        added: 0,
        changed: 0,
        removed: 0,
        total: before.advisories,
        ms: Date.now() - started,
      };
    }
    const counts = db.importSource(
      { name: source, kind, location, imported: new Date().toISOString(), fingerprint },
      rows,
      kind === 'debian-tracker',
    );
    return { source, kind, location, unchanged: false, records, ...counts, ms: Date.now() - started };
  } finally {
    db.close();
  }
}

async function load(location: string): Promise<Buffer> {
  if (/^https?:\/\//.test(location)) {
    let res: Response;
    try {
      res = await fetch(location);
    } catch (err) {
      throw new SlipwayError('IO_ERROR', `cannot download ${location}: ${(err as Error).message}`, { cause: err });
    }
    if (!res.ok) throw new SlipwayError('NOT_FOUND', `${location} answered ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }
  try {
    return await readFile(location);
  } catch (err) {
    throw new SlipwayError('NOT_FOUND', `cannot read ${location}: ${(err as Error).message}`, { cause: err });
  }
}

/** The JSON documents of a zip (OSV's per-ecosystem all.zip holds one record per file). */
function zipJsonEntries(bytes: Buffer, location: string): Promise<[string, unknown][]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, zip) => {
      if (err || !zip)
        return reject(
          new SlipwayError('INVALID_ARCHIVE', `${location} is not a readable zip: ${err?.message}`, { cause: err }),
        );
      const out: [string, unknown][] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
      zip.on('entry', (entry: yauzl.Entry) => {
        if (!entry.fileName.endsWith('.json')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            try {
              out.push([entry.fileName, JSON.parse(Buffer.concat(chunks).toString('utf8'))]);
            } catch (parseErr) {
              return reject(
                new SlipwayError('INVALID_DOCUMENT', `${location}: ${entry.fileName} is not JSON`, { cause: parseErr }),
              );
            }
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}
