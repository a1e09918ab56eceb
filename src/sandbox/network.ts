import { spawn, type ChildProcess } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import { runTool } from '../runtime/host-tools.js';

/**
 * A build's network. Every build has a network namespace of its own; `outbound`
 * attaches user-mode networking to it (slirp4netns: the build's packets become the
 * host's ordinary outbound connections, so nothing of the host's network stack or
 * interfaces is shared), `none` leaves it with loopback only.
 *
 * slirp4netns was chosen over pasta by trying both here: Debian 12's passt (a 2023
 * snapshot) cannot attach to a namespace as root (it drops to nobody, then cannot open
 * the namespace), while slirp4netns is ready in ~15 ms, with its own sandbox and
 * seccomp filter on, since it parses the build's packets.
 */
export type BuildNetwork = 'outbound' | 'none';

/** The DNS forwarder slirp4netns answers on inside the namespace. */
export const SANDBOX_NAMESERVER = '10.0.2.3';

/**
 * What a build can never reach, even with outbound access: the host itself (the
 * gateway's host-loopback mapping is disabled in slirp4netns, and each of the host's
 * own addresses is a blackhole route, so a service bound to 0.0.0.0 is not reachable
 * either), private networks (RFC 1918, carrier-grade NAT), link-local addresses
 * (cloud metadata services at 169.254.169.254) and multicast. slirp4netns' own
 * 10.0.2.0/24 stays reachable through its more specific route (the DNS forwarder).
 */
const UNREACHABLE_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

/** slirp4netns attached to a running container's network namespace; `stop()` ends it. */
export class OutboundNetwork {
  private constructor(private readonly child: ChildProcess) {}

  /**
   * Starts slirp4netns for the network namespace of `pid` and returns once the
   * namespace has its interface, default route and blackhole routes.
   */
  static async attach(pid: number): Promise<OutboundNetwork> {
    // fd 3: slirp4netns writes "1" once configured; fd 4: it exits when this end closes (so it never outlives us).
    const child = spawn(
      'slirp4netns',
      [
        '--configure',
        '--mtu=65520',
        '--disable-host-loopback',
        '--enable-sandbox',
        '--enable-seccomp',
        '--ready-fd=3',
        '--exit-fd=4',
        String(pid),
        'tap0',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      },
    );
    const net = new OutboundNetwork(child);
    try {
      await waitReady(child);
      await blackholeRoutes(pid);
      return net;
    } catch (err) {
      net.stop();
      throw err;
    }
  }

  stop(): void {
    (this.child.stdio[4] as Writable | null)?.destroy();
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

function waitReady(child: ChildProcess): Promise<void> {
  let stderr = '';
  (child.stdio[2] as Readable).on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  return new Promise((resolve, reject) => {
    const fail = (why: string) =>
      reject(
        new SlipwayError(
          'TOOL_FAILED',
          `the build's network could not be set up: ${why}${stderr.trim() ? ` (${stderr.trim().split('\n').pop()})` : ''}`,
        ),
      );
    child.once('error', (err) =>
      fail(
        isMissing(err) ? 'slirp4netns is not installed; install it with: apt-get install -y slirp4netns' : err.message,
      ),
    );
    child.once('exit', (code) => fail(`slirp4netns exited with ${code}`));
    (child.stdio[3] as Readable).once('data', () => resolve());
  });
}

/** Blackhole routes in the namespace of `pid` for the host's own addresses and every private range. */
export async function blackholeRoutes(pid: number): Promise<void> {
  const own = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv4' && !i.internal)
    .map((i) => `${i!.address}/32`);
  const routes = [...UNREACHABLE_V4, ...own].map((cidr) => `route add blackhole ${cidr}`).join('\n');
  await runTool('nsenter', ['-t', String(pid), '-n', 'ip', '-batch', '-'], { input: `${routes}\n` });
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}
