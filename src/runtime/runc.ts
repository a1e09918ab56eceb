import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { runTool } from './host-tools.js';

const INSTALL_HINT = 'install it with: apt-get install -y runc';

/**
 * The OCI runtime, driven through its command line (`runc --root DIR ...`). Slipway
 * keeps runc's state in a directory of its own so its containers never mix with
 * another manager's (podman, containerd).
 */
export class Runc {
  readonly root: string;
  readonly binary: string;

  constructor(root: string, binary = 'runc') {
    this.root = root;
    this.binary = binary;
  }

  /**
   * Throws a clear error when containers cannot run here: runc missing (TOOL_MISSING,
   * saying what to install) or not root (UNSUPPORTED: overlay mounts and runc's
   * namespaces need it).
   */
  checkUsable(): void {
    if (findExecutable(this.binary) === undefined) {
      throw new SlipwayError(
        'TOOL_MISSING',
        `running containers needs the OCI runtime runc, which is not installed (not found in PATH); ${INSTALL_HINT}`,
        {
          detail: { tool: this.binary },
        },
      );
    }
    if (process.getuid?.() !== 0) {
      throw new SlipwayError(
        'UNSUPPORTED',
        "running containers needs root (the overlay root filesystem and runc's namespaces and cgroups need it); run slipway as root, e.g. with sudo",
        {
          detail: { uid: process.getuid?.() },
        },
      );
    }
  }

  /**
   * Starts `runc run` for the bundle and returns the child: it exits with the
   * container's exit status (128+N when signal N ended it). It runs in a session of
   * its own, so a terminal's Ctrl-C reaches Slipway only, which forwards it once.
   */
  run(id: string, bundle: string, options: { pidFile: string; logFile: string; stdio: StdioOptions }): ChildProcess {
    const args = [
      '--root',
      this.root,
      '--log',
      options.logFile,
      '--log-format',
      'json',
      'run',
      '--bundle',
      bundle,
      '--pid-file',
      options.pidFile,
      id,
    ];
    const child = spawn(this.binary, args, {
      stdio: options.stdio,
      detached: true,
    });
    return child;
  }

  /**
   * A watchdog for a container that must die with this process, whatever ends it (a
   * SIGKILL included, which no handler sees): a shell in a session of its own, deaf to
   * signals, reading a pipe only this process writes. `done()` says the container was
   * cleaned up and lets it go; the pipe closing without that (this process died) makes
   * it kill and delete the container and lazily unmount its root filesystem.
   */
  watchdog(id: string, rootfs: string): { done: () => void } {
    const script = `trap '' HUP INT QUIT TERM PIPE
if read -r _; then exit 0; fi
"$0" --root "$1" kill "$2" KILL
"$0" --root "$1" delete --force "$2"
umount -l "$3"
exit 0`;
    const child = spawn('sh', ['-c', script, this.binary, this.root, id, rootfs], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => undefined); // no shell: the next ps or gc sweeps instead
    child.stdin!.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return { done: () => child.stdin!.end('done\n') };
  }

  /** `runc delete --force`: removes the container's runc state, killing it if it still runs. Quiet when runc has no such container. */
  async deleteForce(id: string): Promise<void> {
    try {
      await runTool(this.binary, ['--root', this.root, 'delete', '--force', id]);
    } catch (err) {
      if (!/does not exist|not exist|no such/i.test((err as Error).message)) throw err;
    }
  }

  /** The ids of every container runc knows in this root. */
  async list(): Promise<string[]> {
    try {
      return (await runTool(this.binary, ['--root', this.root, 'list', '-q'])).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** runc's view of a container, or undefined when it knows none by that id. */
  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      return JSON.parse(await runTool(this.binary, ['--root', this.root, 'state', id])) as {
        status: string;
        pid: number;
      };
    } catch {
      return undefined;
    }
  }
}

/**
 * The last error runc logged (its `--log` file in JSON), e.g. `runc run failed: unable
 * to start container process: exec: "x": executable file not found in $PATH`.
 */
export function lastRuncError(logFile: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  let last: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) last = entry.msg;
    } catch {
      // not a JSON line
    }
  }
  return last;
}

/**
 * The exit status docker gives a process that could not be started: 127 when the
 * command is not found, 126 when it cannot be executed; undefined for other failures.
 */
export function startFailureStatus(error: string): number | undefined {
  if (/exec: .*(executable file not found|no such file or directory)/.test(error)) return 127;
  if (/exec: .*(permission denied|exec format error|is a directory)/.test(error)) return 126;
  return undefined;
}

/** The path of an executable found in PATH (no process spawned: this is on every start). */
export function findExecutable(name: string): string | undefined {
  const dirs = name.includes('/')
    ? ['']
    : (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
  for (const dir of dirs) {
    const candidate = dir === '' ? name : join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
