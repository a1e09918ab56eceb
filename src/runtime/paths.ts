import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where the runtime keeps its state, below the store's home:
 *
 *   runtime/state.sqlite            containers, cached layers and who uses them
 *   runtime/layers/<diffID hex>/    one unpacked layer in overlay form (a lowerdir)
 *   runtime/containers/<name>/      config.json, rootfs (the overlay mount), upper, work, l/ (lowerdir links), log
 *   runtime/runc/                   runc's own state (--root)
 */
export class RuntimePaths {
  readonly root: string;

  constructor(storeHome?: string) {
    // The same home LocalStore.open picks, resolved without opening the store (cached starts never need it).
    const home = resolve(storeHome || process.env['SLIPWAY_HOME'] || join(homedir(), '.slipway'));
    this.root = join(home, 'runtime');
  }

  get stateDb(): string {
    return join(this.root, 'state.sqlite');
  }
  get layers(): string {
    return join(this.root, 'layers');
  }
  get containers(): string {
    return join(this.root, 'containers');
  }
  get runcRoot(): string {
    return join(this.root, 'runc');
  }
  layer(diffIdHex: string): string {
    return join(this.layers, diffIdHex);
  }
  container(name: string): string {
    return join(this.containers, name);
  }
}
