import cliProgress from 'cli-progress';
import type { Progress } from '../progress.js';
import { formatBytes } from './format.js';

/** Per-task progress bars on stderr (bytes and rate), as skopeo and podman show them. */
export function terminalProgress(): Progress {
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      clearOnComplete: false,
      hideCursor: true,
      format: (options, params, payload: { label: string; note?: string }) => {
        const total = params.total > 0 ? params.total : undefined;
        const width = options.barsize ?? 30;
        const filled = total ? Math.round((params.value / total) * width) : 0;
        const bar = total ? `[${'='.repeat(filled)}${' '.repeat(width - filled)}]` : '';
        const seconds = Math.max((Date.now() - params.startTime) / 1000, 0.001);
        const rate = `${formatBytes(params.value / seconds)}/s`;
        const amount = total ? `${formatBytes(params.value)} / ${formatBytes(total)}` : formatBytes(params.value);
        return `${payload.label.padEnd(20)} ${bar} ${amount}${payload.note ? ` ${payload.note}` : ` ${rate}`}`;
      },
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    start(id, label, total) {
      bars.set(id, multi.create(total ?? 0, 0, { label: label.length > 20 ? label.slice(0, 19) + '…' : label }));
    },
    advance(id, bytes) {
      bars.get(id)?.increment(bytes);
    },
    done(id, note) {
      const bar = bars.get(id);
      if (!bar) return;
      bar.update({ note: note ?? 'done' });
      bar.stop();
      bars.delete(id);
      if (bars.size === 0) multi.stop();
    },
    log(message) {
      if (bars.size > 0) multi.log(`${message}\n`);
      else process.stderr.write(`${message}\n`);
    },
  };
}
