import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runtimeSpec, type SpecOptions } from './runtime-spec.js';
import { findExecutable } from './runc.js';

const base: SpecOptions = {
  args: ['cat', '/etc/debian_version'],
  env: ['PATH=/usr/bin:/bin'],
  cwd: '/',
  user: { uid: 0, gid: 0, additionalGids: [] },
  hostname: 'c1',
  network: 'none',
};

describe('runtimeSpec', () => {
  it('has exactly the mounts, masked and read-only paths, capabilities, namespaces and device rules `runc spec` writes', {
    skip: findExecutable('runc') === undefined && !process.env.CI,
  }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-runc-spec-'));
    try {
      execFileSync('runc', ['spec'], { cwd: dir });
      const reference = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const spec = runtimeSpec(base);
      assert.deepEqual(spec.mounts, reference.mounts);
      assert.deepEqual(spec.linux.maskedPaths, reference.linux.maskedPaths);
      assert.deepEqual(spec.linux.readonlyPaths, reference.linux.readonlyPaths);
      assert.deepEqual(spec.process.capabilities, reference.process.capabilities);
      assert.deepEqual(spec.linux.namespaces, reference.linux.namespaces);
      assert.deepEqual(spec.linux.resources.devices, reference.linux.resources.devices);
      assert.equal(spec.process.noNewPrivileges, reference.process.noNewPrivileges);
      assert.equal('rlimits' in spec.process, false, 'no rlimits: raising them is refused on some hosts');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shares the host network namespace with network host, and gets its own with none', () => {
    const types = (o: SpecOptions) => runtimeSpec(o).linux.namespaces.map((n) => n.type);
    assert.equal(types({ ...base, network: 'host' }).includes('network'), false);
    assert.equal(types({ ...base, network: 'none' }).includes('network'), true);
  });

  it('carries process, user, binds, tmpfs, read-only root and limits', () => {
    const spec = runtimeSpec({
      ...base,
      user: { uid: 1000, gid: 1000, additionalGids: [27, 100] },
      binds: [
        { source: '/usr/bin/node', destination: '/usr/bin/node', readonly: true },
        { source: '/srv', destination: '/data', readonly: false },
      ],
      tmpfs: ['/tmp'],
      readonlyRootfs: true,
      memoryBytes: 256 << 20,
      cpus: 0.5,
    });
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [27, 100] });
    assert.deepEqual(spec.process.args, base.args);
    assert.equal(spec.root.readonly, true);
    assert.equal(spec.root.path, 'rootfs');
    const extra = spec.mounts.slice(-3);
    assert.deepEqual(
      extra.map((m) => [m.destination, m.type, m.options?.includes('ro')]),
      [
        ['/tmp', 'tmpfs', false],
        ['/usr/bin/node', 'bind', true],
        ['/data', 'bind', false],
      ],
    );
    assert.deepEqual(spec.linux.resources.memory, { limit: 256 << 20, swap: 256 << 20 });
    assert.deepEqual(spec.linux.resources.cpu, { quota: 50_000, period: 100_000 });
  });
});
