import type Database from 'better-sqlite3';
import { SlipwayError } from '../../errors.js';

/**
 * Buildpack positions kept contiguous from 1, as Cloud Controller keeps them: a new
 * buildpack at position N pushes N.. down one, a position past the end means last,
 * moving one shifts those between, deleting one closes the gap. `position` is UNIQUE,
 * so a block is shifted through negative numbers (SQLite checks uniqueness row by
 * row). Called inside the store's write transactions only.
 */
export class SqliteBuildpackPositions {
  readonly #sql: (source: string) => Database.Statement;

  constructor(sql: (source: string) => Database.Statement) {
    this.#sql = sql;
  }

  /** Makes room at `requested` (clamped to last + 1); returns the position to insert at. */
  openAt(requested: number): number {
    checkPosition(requested);
    const position = Math.min(requested, this.#count() + 1);
    this.#shift(position, Number.MAX_SAFE_INTEGER, +1);
    return position;
  }

  /** Moves a buildpack from `from` to `requested` (clamped to the last position). */
  move(guid: string, from: number, requested: number): void {
    checkPosition(requested);
    const to = Math.min(requested, this.#count());
    if (to === from) return;
    this.#sql('UPDATE buildpacks SET position = 0 WHERE guid = ?').run(guid);
    if (to < from) this.#shift(to, from - 1, +1);
    else this.#shift(from + 1, to, -1);
    this.#sql('UPDATE buildpacks SET position = ? WHERE guid = ?').run(to, guid);
  }

  /** Closes the gap a deleted buildpack left at `position`. */
  closeAt(position: number): void {
    this.#shift(position + 1, Number.MAX_SAFE_INTEGER, -1);
  }

  #count(): number {
    return this.#sql('SELECT COUNT(*) FROM buildpacks WHERE position > 0').pluck().get() as number;
  }

  #shift(first: number, last: number, by: 1 | -1): void {
    this.#sql('UPDATE buildpacks SET position = -(position + ?) WHERE position BETWEEN ? AND ?').run(by, first, last);
    this.#sql('UPDATE buildpacks SET position = -position WHERE position < 0').run();
  }
}

function checkPosition(position: number): void {
  if (!Number.isSafeInteger(position) || position < 1) {
    throw new SlipwayError('INVALID_ARGUMENT', 'Position must be greater than or equal to 1', {
      detail: { field: 'position', position },
    });
  }
}
