import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
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
      throw new SlipwayError('TOOL_MISSING', `running containers needs the OCI runtime runc, which is not installed (not found in PATH); ${INSTALL_HINT}`, {
        detail: { tool: this.binary },
      });
    }
    if (process.getuid?.() !== 0) {
      throw new SlipwayError('UNSUPPORTED', 'running containers needs root (the overlay root filesystem and runc\'s namespaces and cgroups need it); run slipway as root, e.g. with sudo', {
        detail: { uid: process.getuid?.() },
      });
    }
  }

  /**
   * Starts `runc run` for the bundle and returns the child: it exits with the
   * container's exit status (128+N when signal N ended it). It runs in a session of
   * its own, so a terminal's Ctrl-C reaches Slipway only, which forwards it once.
   */
  run(id: string, bundle: string, options: { pidFile: string; stdio: StdioOptions }): ChildProcess {
    const child = spawn(this.binary, ['--root', this.root, 'run', '--bundle', bundle, '--pid-file', options.pidFile, id], {
      stdio: options.stdio,
      detached: true,
    });
    return child;
  }

  /** `runc delete --force`: removes the container's runc state, killing it if it still runs. Quiet when runc has no such container. */
  async deleteForce(id: string): Promise<void> {
    try {
      await runTool(this.binary, ['--root', this.root, 'delete', '--force', id]);
    } catch (err) {
      if (!/does not exist|not exist|no such/i.test((err as Error).message)) throw err;
    }
  }

  /** runc's view of a container, or undefined when it knows none by that id. */
  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    try {
      return JSON.parse(await runTool(this.binary, ['--root', this.root, 'state', id])) as { status: string; pid: number };
    } catch {
      return undefined;
    }
  }
}

/** The path of an executable found in PATH (no process spawned: this is on every start). */
export function findExecutable(name: string): string | undefined {
  const dirs = name.includes('/') ? [''] : (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter);
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
