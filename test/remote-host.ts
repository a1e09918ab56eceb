import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run } from './helpers.js';

/**
 * A host elsewhere on the network, for builds to download from: a network namespace
 * joined to this one by a veth pair, with a public-looking address (198.18.0.0/15,
 * the benchmarking range, which the build sandbox does not block), serving the files
 * of `root` over HTTP. Builds reach it the way they reach the internet (outbound
 * through slirp4netns), never through the host's loopback, which they cannot reach.
 */
export interface RemoteServer {
  /** http://198.18.N.2:8080 */
  url: string;
  /** The request paths it answered, in order. */
  requests: string[];
  close(): Promise<void>;
}

const SERVER = `
const { createServer } = require('node:http');
const { readFile } = require('node:fs/promises');
const { join, normalize } = require('node:path');
const root = process.argv[1];
createServer(async (req, res) => {
  process.stdout.write(req.url + '\\n');
  const path = join(root, normalize(decodeURIComponent(req.url.split('?')[0])).replace(/^(\\.\\.\\/)+/, ''));
  try { res.writeHead(200).end(await readFile(path)); } catch { res.writeHead(404).end(); }
}).listen(8080, '0.0.0.0', () => process.stdout.write('listening\\n'));
`;

export async function remoteHttpServer(root: string): Promise<RemoteServer> {
  const id = randomBytes(3).toString('hex');
  const ns = `slipway-remote-${id}`;
  const net = 18 + (parseInt(id, 16) % 2);
  const octet = parseInt(id.slice(0, 2), 16);
  const [hostAddr, peerAddr] = [`198.${net}.${octet}.1`, `198.${net}.${octet}.2`];
  const [vh, vp] = [`vh${id}`, `vp${id}`];
  await run('ip', ['netns', 'add', ns]);
  const teardown = async () => {
    await run('ip', ['link', 'del', vh]).catch(() => undefined);
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  };
  try {
    await run('ip', ['link', 'add', vh, 'type', 'veth', 'peer', 'name', vp]);
    await run('ip', ['link', 'set', vp, 'netns', ns]);
    await run('ip', ['addr', 'add', `${hostAddr}/30`, 'dev', vh]);
    await run('ip', ['link', 'set', vh, 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${peerAddr}/30`, 'dev', vp]);
    await run('ip', ['-n', ns, 'link', 'set', vp, 'up']);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await teardown();
    throw err;
  }
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER, root], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const requests: string[] = [];
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'listening') resolve();
        else requests.push(line);
      }
    });
    child.once('exit', (code) => reject(new Error(`the remote test server exited with ${code}`)));
  }).catch(async (err) => {
    await teardown();
    throw err;
  });
  return {
    url: `http://${peerAddr}:8080`,
    requests,
    close: async () => {
      child.kill();
      await teardown();
    },
  };
}
