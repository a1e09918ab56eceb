/**
 * A registry server in a child process, for the crash test (sigkill.test.ts):
 * `node --import tsx registry-child.ts HOME` serves HOME's store on a free port of
 * 127.0.0.1 and prints "url URL" once listening. It runs until killed.
 */
import { LocalStore } from '../../../store/local-store.js';
import { allowAll } from '../../auth/types.js';
import { serveRegistry } from '../serve.js';

const home = process.argv[2];
if (!home) throw new Error('usage: registry-child.ts HOME');
const store = await LocalStore.open(home);
const registry = await serveRegistry({ store, auth: allowAll, addr: '127.0.0.1:0' });
console.log(`url ${registry.url}`);
