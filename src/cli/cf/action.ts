import { run } from '../run.js';
import { CfSession } from './session.js';

/**
 * A `slipway cf` command's action: run()'s context and error reporting, with the
 * session (config, client, output) opened first, and the cf CLI's FAILED on stdout
 * before the error when the output is for people.
 */
export function cfAction<A extends unknown[]>(
  action: (s: CfSession, ...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return run(async (ctx, ...args: A) => {
    const session = await CfSession.open(ctx);
    try {
      await action(session, ...args);
    } catch (err) {
      session.say('FAILED');
      throw err;
    }
  });
}
