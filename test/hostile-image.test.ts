import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RuntimePaths } from '../src/runtime/paths.js';
import { RuntimeState } from '../src/runtime/state.js';
import { type RawEntry, tarBuffer } from './fixtures/hostile/tar.js';
import { debianRootfs, slipway, slipwayOk, tempDir, type CliResult } from './helpers.js';

/**
 * Images whose symlinks try to lead the host out of their root (issue 15, item 5):
 * `slipway run` resolves WorkingDir, /etc/passwd, /etc/group and the paths it looks
 * up (the CNB launcher, /etc/hosts) inside the image's root only. After each run the
 * host's canary secret is in no output, nothing exists at the canary paths, the store
 * verifies and the user was told what was refused.
 */
const isRoot = process.getuid?.() === 0;
/** More ".." than any root is deep: joined unresolved, they would reach the host's /. */
const CLIMB = '/..'.repeat(30);

describe('hostile images: paths resolve in the image root only', {
  skip: !isRoot && 'running containers needs root',
}, () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let layout: string;
  /** A host directory the images aim at: `secret` and `passwd` hold the secret; `made-*` must never appear. */
  let canary: string;
  const secret = randomBytes(16).toString('hex');

  before(async () => {
    work = await tempDir('hostile-image');
    home = join(work.path, 'home');
    layout = join(work.path, 'layout');
    canary = `/tmp/slipway-canary-${randomBytes(6).toString('hex')}`;
    mkdirSync(canary);
    writeFileSync(join(canary, 'secret'), `${secret}\n`);
    writeFileSync(
      join(canary, 'passwd'),
      `intruder:x:4242:4242:${secret}:/${secret}:/bin/sh\nroot:x:0:0:${secret}:/${secret}:/bin/sh\n`,
    );
    writeFileSync(join(canary, 'group'), `intruders:x:4343:intruder\n`);
    await slipwayOk(home, ['import', '--rootfs', await debianRootfs(), 'debian:bookworm', '--cmd', '/bin/bash']);
    await slipwayOk(home, ['copy', 'debian:bookworm', `oci:${layout}:base`]);
  });
  after(async () => {
    const paths = new RuntimePaths(home);
    const state = existsSync(paths.stateDb) ? new RuntimeState(paths.stateDb) : undefined;
    for (const c of state?.containers() ?? []) await slipway(home, ['container', 'rm', '--force', c.name]);
    state?.close();
    await work.cleanup();
    rmSync(canary, { recursive: true, force: true });
  });

  /** Stores the Debian image plus `layer` as `hostile:<tag>`, runs it with `args`, and checks the host is untouched. */
  async function attack(
    tag: string,
    layer: RawEntry[],
    config: Record<string, unknown>,
    args: string[],
  ): Promise<CliResult> {
    await extendLayout(layout, 'base', tag, [layer], config);
    await slipwayOk(home, ['import', `oci:${layout}:${tag}`, `hostile:${tag}`]);
    const r = await slipway(home, [
      'run',
      '--rm',
      ...args.slice(0, args.indexOf('IMAGE')),
      `hostile:${tag}`,
      ...args.slice(args.indexOf('IMAGE') + 1),
    ]);
    assert.ok(
      !`${r.stdout}${r.stderr}`.includes(secret),
      `the host's secret leaked into the output:\n${r.stdout}${r.stderr}`,
    );
    const made = readdirSync(canary).filter((name) => name.startsWith('made'));
    for (const name of made) rmSync(join(canary, name), { recursive: true }); // so the next attack is judged on its own
    assert.deepEqual(made, [], `the host created ${made.map((name) => `${canary}/${name}`).join(', ')}`);
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['ps', '--json'])), [], 'no container is left');
    const verify = await slipway(home, ['verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    return r;
  }

  const refusedLoop = (path: string) =>
    new RegExp(`refused "${escapeRegExp(path)}": resolving it in the image's root met more than 40 symlinks`);

  test('a loop symlink plus a WorkingDir climbing ".." is refused; the host makes no directory', async () => {
    const workdir = `/loop${CLIMB}${canary}/made-by-workdir`;
    const r = await attack(
      'loop-workdir',
      [{ name: 'loop', type: 'symlink', linkname: 'loop' }],
      { WorkingDir: workdir },
      ['IMAGE', '--', 'pwd'],
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, refusedLoop(workdir));
    const flag = await attack('loop-flag', [{ name: 'loop', type: 'symlink', linkname: 'loop' }], {}, [
      '-w',
      `/loop${CLIMB}${canary}/made-by-flag`,
      'IMAGE',
      '--',
      'pwd',
    ]);
    assert.notEqual(flag.code, 0);
    assert.match(flag.stderr, /more than 40 symlinks/);
  });

  test('a WorkingDir through 41 links (the last to /) is refused, not created through the link on the host', async () => {
    const chain: RawEntry[] = [];
    for (let i = 0; i <= 40; i++)
      chain.push({ name: `c${i}`, type: 'symlink', linkname: i === 40 ? '/' : `c${i + 1}` });
    const workdir = `/c0${canary}/made-by-chain`;
    const r = await attack('chain-workdir', chain, { WorkingDir: workdir }, ['IMAGE', '--', 'pwd']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, refusedLoop(workdir));
  });

  test("a WorkingDir that is a symlink to the host's / is made inside the container's root", async () => {
    const workdir = `/w${canary}/made-by-link`;
    const r = await attack('link-workdir', [{ name: 'w', type: 'symlink', linkname: '/' }], { WorkingDir: workdir }, [
      'IMAGE',
      '--',
      'sh',
      '-c',
      'pwd; ls -A .',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${canary}/made-by-link\n`, 'the container runs in a new, empty directory of its own root');
  });

  test("/etc/passwd through a loop to the host's file: -u is refused, never resolved from the host", async () => {
    const layer: RawEntry[] = [
      { name: 'loop', type: 'symlink', linkname: 'loop' },
      { name: 'etc', type: 'directory' },
      { name: 'etc/passwd', type: 'symlink', linkname: `/loop${CLIMB}${canary}/passwd` },
    ];
    const r = await attack('loop-passwd', layer, {}, [
      '-u',
      'intruder',
      'IMAGE',
      '--',
      'sh',
      '-c',
      'echo "home=$HOME"; id -u',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, refusedLoop('/etc/passwd'));
    const group = await attack(
      'loop-group',
      [
        { name: 'loop', type: 'symlink', linkname: 'loop' },
        { name: 'etc', type: 'directory' },
        { name: 'etc/group', type: 'symlink', linkname: `../loop${CLIMB}${canary}/group` },
      ],
      {},
      ['-u', '0:intruders', 'IMAGE', '--', 'id', '-g'],
    );
    assert.notEqual(group.code, 0);
    assert.match(group.stderr, refusedLoop('/etc/group'));
    assert.doesNotMatch(group.stdout, /4343/);
  });

  test('/etc/passwd as an absolute or climbing symlink to a host path is resolved in the image (no such user)', async () => {
    for (const [tag, linkname] of [
      ['abs-passwd', `${canary}/passwd`],
      ['up-passwd', `..${CLIMB}${canary}/passwd`],
    ] as const) {
      const r = await attack(
        tag,
        [
          { name: 'etc', type: 'directory' },
          { name: 'etc/passwd', type: 'symlink', linkname },
        ],
        {},
        ['-u', 'intruder', 'IMAGE', '--', 'id', '-u'],
      );
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /user "intruder" is not in the image's \/etc\/passwd/);
      assert.doesNotMatch(r.stdout, /4242/);
    }
  });

  test('the launcher lookup of --process and the /etc/hosts check do not answer from the host', async () => {
    const metadata = JSON.stringify({ processes: [{ type: 'web', command: ['web'], args: [], direct: true }] });
    const launcher: RawEntry[] = [
      { name: 'loop', type: 'symlink', linkname: 'loop' },
      { name: 'cnb', type: 'directory' },
      { name: 'cnb/lifecycle', type: 'directory' },
      { name: 'cnb/lifecycle/launcher', type: 'symlink', linkname: `/loop${CLIMB}${canary}/secret` },
    ];
    const r = await attack('loop-launcher', launcher, { Labels: { 'io.buildpacks.build.metadata': metadata } }, [
      '--process',
      'web',
      'IMAGE',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, refusedLoop('/cnb/lifecycle/launcher'));
    const hosts = await attack(
      'loop-hosts',
      [
        { name: 'loop', type: 'symlink', linkname: 'loop' },
        { name: 'etc', type: 'directory' },
        { name: 'etc/hosts', type: 'symlink', linkname: `/loop${CLIMB}${canary}/secret` },
      ],
      {},
      ['--network', 'host', 'IMAGE', '--', 'cat', '/etc/hosts'],
    );
    assert.notEqual(hosts.code, 0);
    assert.match(hosts.stderr, refusedLoop('/etc/hosts'));
  });

  test('an image with ordinary in-root symlinks still runs as before', async () => {
    const r = await attack(
      'plain-links',
      [
        { name: 'etc', type: 'directory' },
        { name: 'etc/passwd.d', type: 'directory' },
        { name: 'etc/passwd.d/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n' },
        { name: 'etc/passwd', type: 'symlink', linkname: 'passwd.d/../passwd.d/passwd' },
        { name: 'srv', type: 'directory' },
        { name: 'srv/app', type: 'symlink', linkname: '/../var/../srv/real' },
      ],
      { WorkingDir: '/srv/app/sub' },
      ['-u', 'app', 'IMAGE', '--', 'sh', '-c', 'echo "$(id -u) $HOME $(pwd -P)"'],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1234 /home/app /srv/real/sub\n');
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Adds image `ref` to an OCI layout: the image `baseRef` plus uncompressed tar layers, `config` merged into its container config. */
async function extendLayout(
  layout: string,
  baseRef: string,
  ref: string,
  layers: RawEntry[][],
  config: Record<string, unknown> = {},
): Promise<void> {
  const blob = (digest: string) => join(layout, 'blobs/sha256', digest.slice(7));
  const put = (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    writeFileSync(blob(digest), bytes);
    return { digest, size: bytes.length };
  };
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const named = (m: { annotations?: Record<string, string> }, name: string) =>
    m.annotations?.['org.opencontainers.image.ref.name'] === name;
  const baseDesc = index.manifests.find((m: { annotations?: Record<string, string> }) => named(m, baseRef));
  const manifest = JSON.parse(readFileSync(blob(baseDesc.digest), 'utf8'));
  const imageConfig = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  for (const entries of layers) {
    const layer = put(await tarBuffer(entries));
    manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer });
    imageConfig.rootfs.diff_ids.push(layer.digest);
    imageConfig.history = [...(imageConfig.history ?? []), { created_by: 'hostile test layer' }];
  }
  imageConfig.config = { ...imageConfig.config, ...config };
  manifest.config = { ...manifest.config, ...put(Buffer.from(JSON.stringify(imageConfig))) };
  const desc = {
    mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
    ...put(Buffer.from(JSON.stringify(manifest))),
    annotations: { 'org.opencontainers.image.ref.name': ref },
  };
  index.manifests = [...index.manifests.filter((m: { annotations?: Record<string, string> }) => !named(m, ref)), desc];
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
}
