import type { Command } from 'commander';
import { isSlipwayError } from '../errors.js';
import { CliContext } from './context.js';

/**
 * Wraps a command action: gives it a CliContext, closes the store afterwards, and
 * turns errors into one clear line on stderr (plus `{error: {code, message}}` on
 * stdout under --json) and exit status 1.
 */
export function run<A extends unknown[]>(
  action: (ctx: CliContext, ...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const ctx = new CliContext(args[args.length - 1] as Command);
    try {
      await action(ctx, ...args);
    } catch (err) {
      reportError(err, ctx.options.json ?? false);
      process.exitCode = exitStatus(err);
    } finally {
      await ctx.close();
    }
  };
}

/**
 * 1, or the status an error carries: a staging phase's (the CNB platform spec's, CF's
 * builder's) or a sandbox limit's.
 */
function exitStatus(err: unknown): number {
  const status = (err as { exitCode?: unknown } | null)?.exitCode;
  return isSlipwayError(err) && typeof status === 'number' && Number.isInteger(status) && status > 0 && status < 256
    ? status
    : 1;
}

function reportError(err: unknown, json: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  if (json) {
    const code = isSlipwayError(err) ? err.code : 'ERROR';
    process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
  }
  process.stderr.write(`slipway: error: ${message}\n`);
  if (process.env.SLIPWAY_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
}
