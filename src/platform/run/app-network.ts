import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { SlipwayError } from '../../errors.js';
import { blackholeRoutes } from '../../sandbox/network.js';
import { freePort } from '../../store/free-port.js';

/**
 * An app instance's network: the container has a network namespace of its own (no
 * other app's, nor the host's), with outbound access through slirp4netns (the host
 * and private networks unreachable, as for builds) and one way in: a forward from
 * 127.0.0.1:HOSTPORT on the host to the app's port in the container, which only the
 * router (on the host) uses. slirp4netns runs detached, so a restarted server finds
 * the instance still reachable; its pid is kept with the instance.
 */
export interface AppNetwork {
  hostPort: number;
  slirpPid: number;
}

/** The port apps listen on inside their namespace (CF's PORT). */
export const APP_PORT = 8080;

/**
 * Attaches networking to the namespace of the container whose init is `pid`, with the
 * forward 127.0.0.1:`hostPort` (0: a free one) -> APP_PORT. `socket` is where
 * slirp4netns' API socket goes (removed when it exits).
 */
export async function attachAppNetwork(pid: number, socket: string, hostPort = 0, log?: string): Promise<AppNetwork> {
  const port = hostPort || (await freePort());
  rmSync(socket, { force: true });
  const out = log ? openSync(log, 'a', 0o600) : 'ignore';
  const child = spawn(
    'slirp4netns',
    [
      '--configure',
      '--mtu=65520',
      '--disable-host-loopback',
      '--enable-sandbox',
      '--enable-seccomp',
      `--api-socket=${socket}`,
      String(pid),
      'tap0',
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  if (typeof out === 'number') closeSync(out);
  child.unref();
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new SlipwayError('TOOL_FAILED', `slirp4netns for the app instance exited with ${code}`)),
    ),
  );
  child.once('error', () => undefined);
  try {
    await Promise.race([waitForSocket(socket), exited]);
    await blackholeRoutes(pid);
    await Promise.race([addForwardWhenFree(socket, port), exited]);
  } catch (err) {
    // slirp4netns may be gone already (its exit is often the error): the error is what matters.
    if (child.pid) detachAppNetwork(child.pid, 'SIGKILL');
    throw err;
  }
  return { hostPort: port, slirpPid: child.pid! };
}

/** True when the slirp4netns of an adopted instance still runs. */
export function networkAlive(slirpPid: number): boolean {
  try {
    process.kill(slirpPid, 0);
    return true;
  } catch {
    return false;
  }
}

export function detachAppNetwork(slirpPid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(slirpPid, signal);
  } catch {
    // gone already
  }
}

/** Stops the slirp4netns serving API socket `socket` (an instance whose pid was never recorded). */
export function killNetworkBySocket(socket: string): void {
  const wanted = `--api-socket=${socket}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv[0]?.endsWith('slirp4netns') && argv.includes(wanted)) detachAppNetwork(Number(entry));
  }
}

async function waitForSocket(socket: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection(socket, () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new SlipwayError('TOOL_FAILED', 'slirp4netns did not open its API socket within 4 s');
}

/**
 * add_hostfwd, again while the API socket is busy: slirp4netns serves one connection at
 * a time with a tiny listen backlog, so a connect right after waitForSocket's (still
 * being read) can fail with EAGAIN, as it did with ten instances starting at once.
 */
async function addForwardWhenFree(socket: string, hostPort: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await addForward(socket, hostPort);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt >= 200) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** slirp4netns' add_hostfwd, over its API socket (one JSON request, one JSON answer). */
function addForward(socket: string, hostPort: number): Promise<void> {
  const request = {
    execute: 'add_hostfwd',
    arguments: { proto: 'tcp', host_addr: '127.0.0.1', host_port: hostPort, guest_port: APP_PORT },
  };
  return new Promise((resolve, reject) => {
    const c = createConnection(socket, () => c.write(JSON.stringify(request)));
    let answer = '';
    const settle = (): boolean => {
      let parsed: { return?: unknown; error?: { desc?: string } };
      try {
        parsed = JSON.parse(answer) as typeof parsed;
      } catch {
        return false;
      }
      c.destroy();
      if (parsed.error)
        reject(
          new SlipwayError(
            'TOOL_FAILED',
            `slirp4netns refused the port forward ${hostPort}: ${parsed.error.desc ?? answer}`,
          ),
        );
      else resolve();
      return true;
    };
    c.on('data', (d) => {
      answer += d.toString();
      settle();
    });
    // on, not once: any later error of a socket to a slirp4netns that died must not go uncaught.
    c.on('error', reject);
    c.once('close', () => {
      if (!settle())
        reject(
          new SlipwayError('TOOL_FAILED', `slirp4netns gave no answer to the port forward (${answer || 'nothing'})`),
        );
    });
  });
}
