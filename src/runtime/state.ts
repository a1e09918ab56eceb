import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SlipwayError } from '../errors.js';

/**
 * The runtime's records in one SQLite file (runtime/state.sqlite): which layers the
 * cache holds or is unpacking (and for whom), which containers exist and which layers
 * each one uses. SQLite's write lock is what makes concurrent `run`s unpack a layer
 * once and keeps `gc` from taking a layer a starting container has just claimed.
 * Times are ISO-8601 UTC text.
 */
const MIGRATIONS: readonly string[] = [
  /* 1 */ `
  CREATE TABLE layers (
    diff_id   TEXT PRIMARY KEY,
    state     TEXT NOT NULL CHECK (state IN ('unpacking', 'ready')),
    owner     TEXT,
    size      INTEGER NOT NULL DEFAULT 0,
    unpacked  TEXT,
    last_used TEXT,
    unpacks   INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;

  CREATE TABLE containers (
    name      TEXT PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    image     TEXT NOT NULL,
    digest    TEXT NOT NULL,
    status    TEXT NOT NULL CHECK (status IN ('created', 'running', 'exited')),
    owner     TEXT,
    init_pid  INTEGER,
    exit_code INTEGER,
    detached  INTEGER NOT NULL,
    command   TEXT NOT NULL,
    created   TEXT NOT NULL,
    started   TEXT,
    finished  TEXT,
    error     TEXT
  ) WITHOUT ROWID;

  CREATE TABLE container_layers (
    container TEXT NOT NULL REFERENCES containers (name) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    diff_id   TEXT NOT NULL,
    PRIMARY KEY (container, position)
  ) WITHOUT ROWID;
  CREATE INDEX container_layers_by_layer ON container_layers (diff_id);

  -- What a cached start needs of an image, so it reads no blob: see ImagePlan.
  CREATE TABLE images (
    source TEXT PRIMARY KEY,
    plan   TEXT NOT NULL,
    used   TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface ContainerRecord {
  name: string;
  /** The id runc knows the container by. */
  id: string;
  /** The image reference as given. */
  image: string;
  /** The image manifest digest. */
  digest: string;
  status: ContainerStatus;
  /** The process that waits for the container (`slipway run`, or the supervisor of a detached run), as an owner string. */
  owner: string | null;
  /** The container's init process, as the host sees it. */
  initPid: number | null;
  exitCode: number | null;
  detached: boolean;
  /** The process args. */
  command: string[];
  created: string;
  started: string | null;
  finished: string | null;
  /** Why it failed to start, when it did. */
  error: string | null;
}

export interface LayerRecord {
  diffId: string;
  state: 'unpacking' | 'ready';
  owner: string | null;
  size: number;
  unpacked: string | null;
  lastUsed: string | null;
  /** How many times this layer was unpacked into the cache since it was first recorded. */
  unpacks: number;
  /** Containers using it. */
  refs: number;
}

interface ContainerRow {
  name: string;
  id: string;
  image: string;
  digest: string;
  status: ContainerStatus;
  owner: string | null;
  init_pid: number | null;
  exit_code: number | null;
  detached: number;
  command: string;
  created: string;
  started: string | null;
  finished: string | null;
  error: string | null;
}

interface LayerRow {
  diff_id: string;
  state: 'unpacking' | 'ready';
  owner: string | null;
  size: number;
  unpacked: string | null;
  last_used: string | null;
  unpacks: number;
  refs: number;
}

const now = (): string => new Date().toISOString();

export class RuntimeState {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new Database(path);
    try {
      this.#db.pragma('busy_timeout = 60000');
      this.#db.pragma('journal_mode = WAL');
      // A lost record is recoverable (layers are re-unpacked, containers re-listed from runc); NORMAL is durable enough in WAL.
      this.#db.pragma('synchronous = NORMAL');
      this.#db.pragma('foreign_keys = ON');
      this.#migrate();
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  close(): void {
    this.#db.close();
  }

  /** Runs `fn` as one write transaction (BEGIN IMMEDIATE: other processes wait for it). */
  write<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  // ---- layers

  layer(diffId: string): LayerRecord | undefined {
    const row = this.#sql(
      `SELECT l.*, (SELECT count(*) FROM container_layers c WHERE c.diff_id = l.diff_id) AS refs FROM layers l WHERE diff_id = ?`,
    ).get(diffId) as LayerRow | undefined;
    return row && layerRecord(row);
  }

  layers(): LayerRecord[] {
    const rows = this.#sql(
      `SELECT l.*, (SELECT count(*) FROM container_layers c WHERE c.diff_id = l.diff_id) AS refs FROM layers l ORDER BY diff_id`,
    ).all() as LayerRow[];
    return rows.map(layerRecord);
  }

  /** Records that `owner` is unpacking `diffId` now. */
  claimLayer(diffId: string, owner: string): void {
    this.#sql(`INSERT INTO layers (diff_id, state, owner) VALUES (?, 'unpacking', ?)
      ON CONFLICT (diff_id) DO UPDATE SET state = 'unpacking', owner = excluded.owner`).run(diffId, owner);
  }

  layerReady(diffId: string, size: number): void {
    const t = now();
    this.#sql(
      `UPDATE layers SET state = 'ready', owner = NULL, size = ?, unpacked = ?, last_used = ?, unpacks = unpacks + 1 WHERE diff_id = ?`,
    ).run(size, t, t, diffId);
  }

  /** Records a layer found complete on disk whose record was lost or whose unpacker died after renaming it in. */
  layerPresent(diffId: string): void {
    const t = now();
    this.#sql(`INSERT INTO layers (diff_id, state, unpacked, last_used) VALUES (?, 'ready', ?, ?)
      ON CONFLICT (diff_id) DO UPDATE SET state = 'ready', owner = NULL`).run(diffId, t, t);
  }

  dropLayer(diffId: string): void {
    this.#sql('DELETE FROM layers WHERE diff_id = ?').run(diffId);
  }

  /** Marks layers as used now (the last-use record gc reports). */
  touchLayers(diffIds: readonly string[]): void {
    const t = now();
    const stmt = this.#sql('UPDATE layers SET last_used = ? WHERE diff_id = ?');
    for (const d of diffIds) stmt.run(t, d);
  }

  // ---- containers

  container(name: string): ContainerRecord | undefined {
    const row = this.#sql('SELECT * FROM containers WHERE name = ?').get(name) as ContainerRow | undefined;
    return row && containerRecord(row);
  }

  containers(): ContainerRecord[] {
    return (this.#sql('SELECT * FROM containers ORDER BY created').all() as ContainerRow[]).map(containerRecord);
  }

  /** Records a new container and the layers it holds (its references). CONFLICT when the name is taken. */
  addContainer(
    record: Pick<ContainerRecord, 'name' | 'id' | 'image' | 'digest' | 'detached' | 'command' | 'owner'>,
    diffIds: readonly string[],
  ): void {
    if (this.container(record.name)) {
      throw new SlipwayError(
        'CONFLICT',
        `a container named "${record.name}" already exists; remove it (slipway container rm ${record.name}) or pick another --name`,
        {
          detail: { name: record.name },
        },
      );
    }
    this.#sql(
      `INSERT INTO containers (name, id, image, digest, status, owner, detached, command, created) VALUES (?, ?, ?, ?, 'created', ?, ?, ?, ?)`,
    ).run(
      record.name,
      record.id,
      record.image,
      record.digest,
      record.owner,
      record.detached ? 1 : 0,
      JSON.stringify(record.command),
      now(),
    );
    const ref = this.#sql('INSERT INTO container_layers (container, position, diff_id) VALUES (?, ?, ?)');
    diffIds.forEach((d, i) => {
      ref.run(record.name, i, d);
    });
  }

  /** The container's layers, base first. */
  containerLayers(name: string): string[] {
    return (
      this.#sql('SELECT diff_id FROM container_layers WHERE container = ? ORDER BY position').all(name) as {
        diff_id: string;
      }[]
    ).map((r) => r.diff_id);
  }

  markRunning(name: string, owner: string, initPid: number): void {
    this.#sql(`UPDATE containers SET status = 'running', owner = ?, init_pid = ?, started = ? WHERE name = ?`).run(
      owner,
      initPid,
      now(),
      name,
    );
  }

  /** Records the process args the container runs (known once its bundle is written). */
  setCommand(name: string, command: readonly string[]): void {
    this.#sql('UPDATE containers SET command = ? WHERE name = ?').run(JSON.stringify(command), name);
  }

  markExited(name: string, exitCode: number | null, error?: string): void {
    this.#sql(
      `UPDATE containers SET status = 'exited', init_pid = NULL, exit_code = ?, finished = ?, error = coalesce(?, error) WHERE name = ?`,
    ).run(exitCode, now(), error ?? null, name);
  }

  /** Forgets a container; its layer references go with it. */
  removeContainer(name: string): void {
    this.#sql('DELETE FROM containers WHERE name = ?').run(name);
  }

  // ---- image plans

  imagePlan(source: string): string | undefined {
    const row = this.#sql('SELECT plan FROM images WHERE source = ?').get(source) as { plan: string } | undefined;
    if (row) this.#sql('UPDATE images SET used = ? WHERE source = ?').run(now(), source);
    return row?.plan;
  }

  putImagePlan(source: string, plan: string): void {
    this.#sql(
      'INSERT INTO images (source, plan, used) VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET plan = excluded.plan, used = excluded.used',
    ).run(source, plan, now());
  }

  /** Forgets image plans that name a layer the cache no longer holds. */
  dropImagePlansWithout(diffIds: ReadonlySet<string>, planLayers: (plan: string) => string[]): number {
    let dropped = 0;
    for (const row of this.#sql('SELECT source, plan FROM images').all() as { source: string; plan: string }[]) {
      if (planLayers(row.plan).some((d) => diffIds.has(d))) {
        this.#sql('DELETE FROM images WHERE source = ?').run(row.source);
        dropped++;
      }
    }
    return dropped;
  }

  #sql(text: string): Database.Statement {
    let stmt = this.#statements.get(text);
    if (!stmt) {
      stmt = this.#db.prepare(text);
      this.#statements.set(text, stmt);
    }
    return stmt;
  }

  #migrate(): void {
    this.#db
      .transaction(() => {
        const current = this.#db.pragma('user_version', { simple: true }) as number;
        if (current > MIGRATIONS.length) {
          throw new SlipwayError(
            'UNSUPPORTED',
            `the runtime state database has schema version ${current}; this Slipway knows up to ${MIGRATIONS.length}: upgrade Slipway`,
          );
        }
        for (let v = current; v < MIGRATIONS.length; v++) this.#db.exec(MIGRATIONS[v]!);
        if (current < MIGRATIONS.length) this.#db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }
}

function layerRecord(row: LayerRow): LayerRecord {
  return {
    diffId: row.diff_id,
    state: row.state,
    owner: row.owner,
    size: row.size,
    unpacked: row.unpacked,
    lastUsed: row.last_used,
    unpacks: row.unpacks,
    refs: row.refs,
  };
}

function containerRecord(row: ContainerRow): ContainerRecord {
  return {
    name: row.name,
    id: row.id,
    image: row.image,
    digest: row.digest,
    status: row.status,
    owner: row.owner,
    initPid: row.init_pid,
    exitCode: row.exit_code,
    detached: row.detached === 1,
    command: JSON.parse(row.command) as string[],
    created: row.created,
    started: row.started,
    finished: row.finished,
    error: row.error,
  };
}
