import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { DROPLET_LABEL } from '../src/droplet/layout.js';
import { buildStore } from './build-fixtures.js';
import { type RawEntry, tarBuffer } from './fixtures/hostile/tar.js';
import { ROOT, slipwayOk, tempDir, treeSnapshot, type CliResult } from './helpers.js';

/**
 * Droplet tarballs (and droplet images) that try to make the host read or write its
 * own files (issue 15, item 3). After each import or export the host's canary secret is
 * in no output, blob (layer, config, label) or exported tarball, the canary directory is
 * unchanged, the store verifies, and the error names what was refused.
 */
describe('hostile droplets: import and export follow no link the droplet made', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  /** A host directory the droplets aim at; every file in it holds the secret, as YAML a followed read would take. */
  let canary: string;
  let canarySnapshot: Awaited<ReturnType<typeof treeSnapshot>>;
  const secret = randomBytes(16).toString('hex');
  const secretYaml = `detected_buildpack: ${secret}\nstart_command: echo ${secret}\nweb: echo ${secret}\n`;
  let n = 0;

  before(async () => {
    ({ home, cleanup } = await buildStore());
    work = await tempDir('hostile-droplet');
    canary = `/tmp/slipway-canary-${randomBytes(6).toString('hex')}`;
    for (const d of ['', '0', 'vcap', 'vcap/app']) mkdirSync(join(canary, d), { recursive: true });
    for (const f of ['secret', '0/secret', 'vcap/secret', 'vcap/app/secret'])
      writeFileSync(join(canary, f), secretYaml);
    canarySnapshot = await treeSnapshot(canary);
  });
  after(async () => {
    rmSync(canary, { recursive: true, force: true });
    await work.cleanup();
    await cleanup();
  });

  /** A CF droplet: `./app` with a start script, `./deps/0`, `./profile.d`, `./staging_info.yml`; `replace` swaps entries by name, `add` appends. */
  function droplet(replace: RawEntry[] = [], add: RawEntry[] = []): RawEntry[] {
    const base: RawEntry[] = [
      { name: './', type: 'directory' },
      { name: './app/', type: 'directory' },
      { name: './app/start.sh', content: '#!/bin/sh\necho started\n', mode: 0o755 },
      { name: './deps/', type: 'directory' },
      { name: './deps/0/', type: 'directory' },
      { name: './deps/0/config.yml', content: 'name: hostile\n' },
      { name: './profile.d/', type: 'directory' },
      {
        name: './staging_info.yml',
        content: JSON.stringify({ detected_buildpack: 'hostile', start_command: './start.sh' }),
      },
    ];
    const key = (name: string) => name.replace(/\/$/, '');
    const replaced = new Map(replace.map((e) => [key(e.name), e]));
    const prefixes = [...replaced.keys()];
    const kept = base.filter((e) => !prefixes.some((p) => key(e.name) === p || key(e.name).startsWith(`${p}/`)));
    return [...kept, ...replace, ...add]; // in this order: a hardlink after its target
  }

  async function tgz(entries: RawEntry[]): Promise<string> {
    const file = join(work.path, `droplet-${n++}.tgz`);
    writeFileSync(file, gzipSync(await tarBuffer(entries)));
    return file;
  }

  /** Blob files of the store now. */
  const blobs = () => new Set(readdirSync(join(home, 'blobs/sha256')));

  /** Runs the CLI with a deadline: a host read of a FIFO would block it forever. */
  function cli(args: string[], timeoutMs = 120_000): Promise<CliResult & { timedOut: boolean }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--', join(ROOT, 'bin/slipway.js'), ...args], {
        env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr, timedOut });
      });
    });
  }

  /** After a hostile run of the CLI: no secret anywhere new, the canary as it was, no temp dir left, the store healthy. */
  async function assertHostUntouched(r: CliResult, before: Set<string>, extraFiles: string[] = []): Promise<void> {
    assert.ok(
      !`${r.stdout}${r.stderr}`.includes(secret),
      `the host's secret is in the output:\n${r.stdout}${r.stderr}`,
    );
    for (const hex of blobs()) {
      if (before.has(hex)) continue;
      assert.ok(
        !contents(join(home, 'blobs/sha256', hex)).includes(secret),
        `the host's secret is in blob sha256:${hex}`,
      );
    }
    for (const f of extraFiles)
      if (existsSync(f)) assert.ok(!contents(f).includes(secret), `the host's secret is in ${f}`);
    assert.deepEqual(await treeSnapshot(canary), canarySnapshot, 'the canary directory changed');
    const left = readdirSync(join(home, 'tmp')).filter((d) => d.startsWith('droplet'));
    for (const d of left) rmSync(join(home, 'tmp', d), { recursive: true, force: true }); // so the next case is judged on its own
    assert.deepEqual(left, [], 'no droplet temp dir is left');
    const verify = await cli(['verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  }

  /** Imports the droplet `entries` as apps/hostile-N through the CLI, and checks the host. */
  async function importHostile(entries: RawEntry[], timeoutMs?: number): Promise<CliResult & { timedOut: boolean }> {
    const file = await tgz(entries);
    const seen = blobs();
    const r = await cli(['--json', 'droplet', 'import', file, `apps/hostile-${n}`], timeoutMs);
    // A hung import was killed before it could clean up: that is the failure to report.
    await assertHostUntouched(r, seen).catch((err: unknown) => {
      if (!r.timedOut) throw err;
    });
    assert.equal(r.timedOut, false, 'the import hung');
    return r;
  }

  it('a legitimate droplet imports (the fixture itself is fine)', async () => {
    const r = await importHostile(droplet());
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { layers: { name: string }[]; startCommand: string };
    assert.deepEqual(
      report.layers.map((l) => l.name),
      ['droplet', 'deps/0', 'app', 'launcher', 'process-types'],
    );
    assert.equal(report.startCommand, './start.sh');
  });

  it('app as a symlink to a host directory is refused, nothing of it packed', async () => {
    for (const target of [canary, '/root']) {
      const r = await importHostile(droplet([{ name: './app', type: 'symlink', linkname: target }]));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /refused (to archive )?".*\/app": .*symlink/);
    }
  });

  it('deps as a symlink to a host directory (its 0/ a layer) is refused', async () => {
    const r = await importHostile(droplet([{ name: './deps', type: 'symlink', linkname: canary }]));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refused ".*\/deps": a droplet's deps is a symlink/);
  });

  it('deps/0 as a symlink to a host directory is refused, not dropped in silence', async () => {
    const r = await importHostile(droplet([{ name: './deps/0', type: 'symlink', linkname: canary }]));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refused ".*\/deps\/0": a droplet's deps\/IDX is a symlink/);
  });

  it('staging_info.yml as a symlink to a host file is refused, its YAML never read', async () => {
    const r = await importHostile(
      droplet([{ name: './staging_info.yml', type: 'symlink', linkname: `${canary}/secret` }]),
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refused ".*\/staging_info\.yml": it is a symlink/);
  });

  it('staging_info.yml as a FIFO is refused at once, the host never blocks on it', async () => {
    const r = await importHostile(droplet([{ name: './staging_info.yml', type: 'fifo' }]), 60_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refused ".*\/staging_info\.yml": it is not a regular file/);
  });

  it('a Procfile (or any app file) linked to a host file stays a link in the app layer; its target is never read', async () => {
    const r = await importHostile(
      droplet(
        [],
        [
          { name: './app/Procfile', type: 'symlink', linkname: `${canary}/secret` },
          { name: './app/link-dir', type: 'symlink', linkname: canary },
          { name: './profile.d/0.sh', type: 'symlink', linkname: `${canary}/secret` },
        ],
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { processTypes: Record<string, string> };
    assert.deepEqual(report.processTypes, { web: './start.sh' });
  });

  it('hardlinks out of the tree, ".." and absolute members and writes through a link are refused by the extractor', async () => {
    const cases: [RawEntry[], RegExp][] = [
      [
        [{ name: './app/passwd', type: 'link', linkname: `${canary}/secret` }],
        /unsafe archive entry "(\.\/)?app\/passwd": its hardlink target .* is absolute/,
      ],
      [
        [{ name: './app/passwd', type: 'link', linkname: `../../../../../../../..${canary}/secret` }],
        /unsafe archive entry "(\.\/)?app\/passwd": its hardlink target .* has a "\.\." component/,
      ],
      [[{ name: `./../../../../../../../..${canary}/made`, content: 'x' }], /has a "\.\." component/],
      [[{ name: `${canary}/made`, content: 'x' }], /is absolute/],
      [
        [
          { name: './app/l', type: 'symlink', linkname: canary },
          { name: './app/l/made', content: 'x' },
        ],
        /"app\/l" on its path is a symlink/,
      ],
    ];
    for (const [add, refused] of cases) {
      const r = await importHostile(droplet([], add));
      assert.notEqual(r.code, 0, `${add.map((e) => e.name).join(', ')} was accepted`);
      assert.match(r.stderr, refused);
      assert.equal(existsSync(join(canary, 'made')), false);
    }
    // A hardlink inside the droplet is fine.
    const ok = await importHostile(
      droplet([], [{ name: './app/start-again.sh', type: 'link', linkname: './app/start.sh' }]),
    );
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a device node in a droplet is refused before the host makes it', async () => {
    const r = await importHostile(droplet([], [{ name: './app/sda', type: 'block-device', devmajor: 8, devminor: 0 }]));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unsafe archive entry "(\.\/)?app\/sda": it is a block device, and a droplet holds none/);
  });

  it('export of an image whose droplet layer makes home a link to a host directory is refused', async () => {
    const legit = await importHostile(droplet());
    assert.equal(legit.code, 0, legit.stderr);
    const layout = join(work.path, 'layout');
    const { repository, tag } = JSON.parse(legit.stdout) as { repository: string; tag: string };
    await slipwayOk(home, ['copy', `${repository}:${tag}`, `oci:${layout}:legit`]);
    await extendLayout(
      layout,
      'legit',
      'evil',
      [{ name: 'home', type: 'symlink', linkname: canary }],
      (config, diffId) => {
        const label = JSON.parse(config.config.Labels[DROPLET_LABEL] ?? '{}');
        config.config.Labels[DROPLET_LABEL] = JSON.stringify({ ...label, layers: [diffId] });
      },
    );
    await slipwayOk(home, ['import', `oci:${layout}:evil`, 'apps/evil']);
    const out = join(work.path, 'evil.tgz');
    const seen = blobs();
    const r = await cli(['droplet', 'export', 'apps/evil', '-o', out]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refused ".*\/home\/vcap": ".*\/home" on its way is a symlink/);
    await assertHostUntouched(r, seen, [out]);
  });
});

/** A file's bytes as text, gunzipped when it is gzip. */
function contents(file: string): string {
  const bytes = readFileSync(file);
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('latin1');
}

/** Adds image `ref` to an OCI layout: `baseRef` plus one uncompressed layer of `entries`; `edit` changes the config, given the layer's diffID. */
async function extendLayout(
  layout: string,
  baseRef: string,
  ref: string,
  entries: RawEntry[],
  edit: (config: { config: { Labels: Record<string, string> } }, diffId: string) => void,
): Promise<void> {
  const blob = (digest: string) => join(layout, 'blobs/sha256', digest.slice(7));
  const put = (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    writeFileSync(blob(digest), bytes);
    return { digest, size: bytes.length };
  };
  const named = (m: { annotations?: Record<string, string> }, name: string) =>
    m.annotations?.['org.opencontainers.image.ref.name'] === name;
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(
    readFileSync(
      blob(index.manifests.find((m: { annotations?: Record<string, string> }) => named(m, baseRef)).digest),
      'utf8',
    ),
  );
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  const layer = put(await tarBuffer(entries));
  manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer });
  config.rootfs.diff_ids.push(layer.digest);
  config.history = [...(config.history ?? []), { created_by: 'hostile test layer' }];
  edit(config, layer.digest);
  manifest.config = { ...manifest.config, ...put(Buffer.from(JSON.stringify(config))) };
  const desc = {
    mediaType: manifest.mediaType,
    ...put(Buffer.from(JSON.stringify(manifest))),
    annotations: { 'org.opencontainers.image.ref.name': ref },
  };
  index.manifests = [...index.manifests.filter((m: { annotations?: Record<string, string> }) => !named(m, ref)), desc];
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
}
