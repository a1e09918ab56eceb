/**
 * The process that waits for a detached container (`slipway run -d`): started in a
 * session of its own with the container's log as stdout and stderr, it runs runc in
 * the foreground, records the exit code and unmounts the root filesystem when the
 * container ends. Arguments: the store's home directory and the container name.
 */
import { openSync } from 'node:fs';
import { RuntimePaths } from './paths.js';
import { Runc } from './runc.js';
import { RuntimeState } from './state.js';
import { superviseContainer } from './supervise.js';

const [home, name] = process.argv.slice(2);
if (!home || !name) {
  process.stderr.write('usage: supervisor-main STORE_HOME NAME\n');
  process.exit(2);
}
const paths = new RuntimePaths(home);
const state = new RuntimeState(paths.stateDb);
const dir = paths.container(name);
const log = openSync(`${dir}/log`, 'a');
try {
  await superviseContainer(state, new Runc(paths.runcRoot), name, dir, { stdio: ['ignore', log, log] });
} finally {
  state.close();
}
