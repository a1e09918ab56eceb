import { SlipwayError } from '../../errors.js';
import type { Sql } from './postgres-runner.js';

/**
 * Buildpack positions kept contiguous from 1 on PostgreSQL, as
 * SqliteBuildpackPositions keeps them on SQLite (the same rules: a new one at N
 * pushes N.. down, past the end means last, a move shifts those between, a delete
 * closes the gap). `position` is UNIQUE and checked row by row, so a block is
 * shifted through negative numbers. Runs inside the store's buildpack transactions,
 * which hold the buildpacks' advisory lock.
 */
export class PgBuildpackPositions {
  readonly #c: Sql;

  constructor(c: Sql) {
    this.#c = c;
  }

  /** Makes room at `requested` (clamped to last + 1); returns the position to insert at. */
  async openAt(requested: number): Promise<number> {
    checkPosition(requested);
    const position = Math.min(requested, (await this.#count()) + 1);
    await this.#shift(position, Number.MAX_SAFE_INTEGER, +1);
    return position;
  }

  /** Moves a buildpack from `from` to `requested` (clamped to the last position). */
  async move(guid: string, from: number, requested: number): Promise<void> {
    checkPosition(requested);
    const to = Math.min(requested, await this.#count());
    if (to === from) return;
    await this.#c.run('UPDATE buildpacks SET position = 0 WHERE guid = ?', [guid]);
    if (to < from) await this.#shift(to, from - 1, +1);
    else await this.#shift(from + 1, to, -1);
    await this.#c.run('UPDATE buildpacks SET position = ? WHERE guid = ?', [to, guid]);
  }

  /** Closes the gap a deleted buildpack left at `position`. */
  async closeAt(position: number): Promise<void> {
    await this.#shift(position + 1, Number.MAX_SAFE_INTEGER, -1);
  }

  async #count(): Promise<number> {
    return (await this.#c.value<number>('SELECT COUNT(*)::int FROM buildpacks WHERE position > 0')) ?? 0;
  }

  async #shift(first: number, last: number, by: 1 | -1): Promise<void> {
    // position is INTEGER: the open end is the largest one, not MAX_SAFE_INTEGER.
    const upTo = Math.min(last, 2_147_483_647);
    await this.#c.run('UPDATE buildpacks SET position = -(position + ?::int) WHERE position BETWEEN ? AND ?', [
      by,
      first,
      upTo,
    ]);
    await this.#c.run('UPDATE buildpacks SET position = -position WHERE position < 0');
  }
}

function checkPosition(position: number): void {
  if (!Number.isSafeInteger(position) || position < 1) {
    throw new SlipwayError('INVALID_ARGUMENT', 'Position must be greater than or equal to 1', {
      detail: { field: 'position', position },
    });
  }
}
