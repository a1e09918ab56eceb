import { Command } from 'commander';
import { cfAction } from '../../cf/action.js';
import { appByName } from '../../cf/lookups.js';
import { followLogs, formatLogLine, latestTimestamp, logJson, recentLogs } from '../../cf/log-cache.js';
import type { CfSession } from '../../cf/session.js';

export function logsCommand(): Command {
  return new Command('logs')
    .description("Tail an app's logs (staging, router, every instance), or show the recent ones")
    .argument('<APP>', 'the app')
    .option('--recent', 'Dump recent logs instead of tailing')
    .addHelpText(
      'after',
      `
Each line is TIME [SOURCE/INSTANCE] OUT|ERR TEXT, SOURCE one of STG (staging), RTR
(the router), APP/PROC/WEB (the instances' output), CELL and API (the platform's
notes: starts, crashes). Tailing ends with Ctrl-C; under --json every line is one
JSON document.

Examples:
  $ slipway cf logs web --recent
  $ slipway cf logs web`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { recent?: boolean }) => {
        const user = await s.check({ org: true, space: true });
        const org = s.org();
        const space = s.space();
        s.say(`Retrieving logs for app ${name} in org ${org.name} / space ${space.name} as ${user.name}...`);
        s.say();
        const app = await appByName(s.client, name, space.guid);
        if (flags.recent) {
          const lines = await recentLogs(s.client, app.guid);
          s.done({ app: { guid: app.guid, name: app.name }, logs: lines.map(logJson) }, () =>
            lines.map((l) => formatLogLine(l)).join('\n'),
          );
          return;
        }
        const latest = await latestTimestamp(s.client, app.guid);
        let failed: Error | undefined;
        const follower = followLogs(
          s.client,
          app.guid,
          latest === undefined ? 0n : latest - 1_000_000_000n,
          (m) => {
            if (s.ctx.options.json) process.stdout.write(`${JSON.stringify(logJson(m))}\n`);
            else if (!s.ctx.options.quiet) process.stdout.write(`${formatLogLine(m)}\n`);
          },
          (err) => {
            failed = err;
          },
        );
        const stop = () => void follower.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await follower.done;
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
        if (failed) throw failed;
      }),
    );
}
