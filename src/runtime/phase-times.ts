/**
 * Where a `slipway run` spends its time, phase by phase (`slipway run --timings`,
 * bench/runtime.ts): each mark closes the phase since the one before. The first phase
 * starts at the process's own start, so "cli start" is Node's and the CLI's loading.
 */
export class PhaseTimes {
  readonly #phases: { phase: string; ms: number }[] = [];
  #last = 0; // performance.now() is measured from the process's start

  /** Ends the phase running since the last mark, naming it. */
  mark(phase: string): void {
    const now = performance.now();
    this.#phases.push({ phase, ms: Math.round((now - this.#last) * 10) / 10 });
    this.#last = now;
  }

  get phases(): { phase: string; ms: number }[] {
    return [...this.#phases];
  }

  /** "cli start 62.1 ms, image 1.2 ms, ..., total 301.4 ms" */
  toString(): string {
    const total = this.#phases.reduce((n, p) => n + p.ms, 0);
    return [...this.#phases.map((p) => `${p.phase} ${p.ms.toFixed(1)} ms`), `total ${total.toFixed(1)} ms`].join(', ');
  }
}
