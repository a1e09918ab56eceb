import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import {
  addRandomImage,
  commandExists,
  run,
  slipway,
  slipwayOk,
  startDistribution,
  startSlipwayRegistry,
  tempDir,
  type GeneratedImage,
  type RegistryProcess,
} from './helpers.js';

const haveTools = commandExists('skopeo') && commandExists('docker-registry') && commandExists('openssl');
const MB = 1024 * 1024;

interface Report {
  digest: string;
  blobsSent: number;
  blobsSkipped: number;
  blobsMounted: number;
  bytesSent: number;
}

/** A clean environment: no credentials of the machine's user leak into a test. */
function isolatedEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    HOME: dir,
    DOCKER_CONFIG: join(dir, '.docker'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, '.config'),
    REGISTRY_AUTH_FILE: '',
    SLIPWAY_CREDS: '',
    ...extra,
  };
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('slipway copy, pull, push and promote between Slipway, CNCF Distribution and OCI layouts', {
  skip: !process.env.CI && !haveTools && 'skopeo, openssl or docker-registry is not installed',
}, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let layout: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let slip: RegistryProcess;
  let dist: RegistryProcess;
  let base: GeneratedImage;
  let app: GeneratedImage;
  let big: GeneratedImage;
  const cli = (args: string[]) => slipwayOk(home, args, env);
  const report = async (args: string[]) => JSON.parse(await cli(['--json', ...args])) as Report;

  before(async () => {
    work = await tempDir('slipway-client-e2e');
    layout = join(work.path, 'layout');
    home = join(work.path, 'home');
    env = isolatedEnv(work.path);
    base = await addRandomImage(layout, 'base', [
      { seed: 'base-os', size: 3 * MB },
      { seed: 'base-libs', size: 2 * MB },
    ]);
    app = await addRandomImage(layout, 'app', [
      { seed: 'base-os', size: 3 * MB },
      { seed: 'base-libs', size: 2 * MB },
      { seed: 'app', size: MB },
    ]);
    big = await addRandomImage(layout, 'big', [{ seed: 'big', size: 24 * MB }]);
    [slip, dist] = await Promise.all([
      startSlipwayRegistry(join(work.path, 'slip-home')),
      startDistribution(join(work.path, 'dist')),
    ]);
  });
  after(async () => {
    await Promise.all([slip?.stop(), dist?.stop()]);
    await work?.cleanup();
  });

  test('push, pull and copy between the two registries and OCI layouts keep the digest, byte for byte', async () => {
    await cli(['copy', `oci:${layout}:base`, 'base:1']);
    const pushed = await report(['push', 'base:1', `${slip.host}/team/base:1`]);
    assert.equal(pushed.digest, base.digest);
    assert.equal(pushed.blobsSent, 3);
    assert.equal((await report(['push', 'base:1', `${dist.host}/team/base:1`])).digest, base.digest);
    // registry to registry, both ways
    assert.equal(
      (await report(['copy', `${slip.host}/team/base:1`, `docker://${dist.host}/copied/base:1`])).digest,
      base.digest,
    );
    assert.equal(
      (await report(['copy', `${dist.host}/team/base:1`, `${slip.host}/copied/base:1`])).digest,
      base.digest,
    );
    // registry to an OCI layout and back into a fresh store
    const out = join(work.path, 'out');
    assert.equal((await report(['copy', `${dist.host}/copied/base:1`, `oci:${out}:base`])).digest, base.digest);
    const fresh = join(work.path, 'fresh-home');
    const pulled = JSON.parse(await slipwayOk(fresh, ['--json', 'pull', `${slip.host}/copied/base:1`], env)) as Report;
    assert.equal(pulled.digest, base.digest);
    const images = JSON.parse(await slipwayOk(fresh, ['--json', 'images'], env)) as {
      name: string;
      tag: string;
      digest: string;
    }[];
    assert.deepEqual(
      images.map((i) => [i.name, i.tag, i.digest]),
      [['copied/base', '1', base.digest]],
    );

    // Outside clients see the same bytes everywhere.
    for (const ref of [
      `${slip.host}/team/base:1`,
      `${dist.host}/team/base:1`,
      `${dist.host}/copied/base:1`,
      `${slip.host}/copied/base:1`,
    ]) {
      const raw = Buffer.from(await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]));
      assert.equal(sha256(raw), base.digest, ref);
      assert.equal((await cli(['digest', ref])).trim(), base.digest, ref);
    }
    assert.deepEqual(Buffer.from(await cli(['manifest', `${dist.host}/copied/base:1`])), base.manifest);
    const layoutIndex = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    assert.equal(layoutIndex.manifests[0]!.digest, base.digest);
    await run('skopeo', ['copy', '--quiet', `oci:${out}:base`, `oci:${join(work.path, 'skopeo-out')}:base`]);
  });

  test('a docker archive goes to a registry: its tar layers are compressed and hashed on the way up', async () => {
    const archive = join(work.path, 'base.tar');
    await cli(['copy', `oci:${layout}:base`, `docker-archive:${archive}:team/base:1`]);
    const pushed = await report(['copy', `docker-archive:${archive}`, `${dist.host}/from-archive/base:1`]);
    assert.equal(pushed.blobsSent, 3);
    const inspected = JSON.parse(
      await run('skopeo', ['inspect', '--tls-verify=false', `docker://${dist.host}/from-archive/base:1`]),
    ) as { Digest: string; Layers: string[] };
    assert.equal(inspected.Digest, pushed.digest);
    assert.equal(inspected.Layers.length, 2);
    // the layers' content is unchanged: the same diffIDs as the original image
    const config = JSON.parse(
      await run('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${dist.host}/from-archive/base:1`]),
    ) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(
      config.rootfs.diff_ids,
      base.layers.map((l) => l.diffId),
    );
  });

  test('a copy whose base layers the destination has sends only the app layer', async () => {
    for (const reg of [slip, dist]) {
      await cli(['copy', `oci:${layout}:base`, `${reg.host}/second/app:base`]);
      const second = await report(['copy', `oci:${layout}:app`, `${reg.host}/second/app:1`]);
      const appLayer = app.layers[2]!;
      const manifest = JSON.parse(app.manifest.toString()) as { config: { size: number } };
      assert.equal(second.digest, app.digest);
      assert.equal(second.blobsSkipped, 2, reg.url);
      assert.equal(second.blobsSent, 2, reg.url); // the app layer and the config
      assert.equal(second.bytesSent, appLayer.size + manifest.config.size, reg.url);
    }
  });

  test('to a registry without single-POST uploads (Distribution), no blob goes up twice', async () => {
    // The client asks once whether a blob may go in its POST; the uploads beside that one wait
    // for the answer instead of sending their bodies where Distribution drops them (which also
    // held the process up until Distribution closed those connections).
    const proxy = await startFaultProxy(dist.url, {});
    try {
      await cli(['copy', `oci:${layout}:app`, `${slip.host}/once/app:1`]);
      const pushed = await report(['promote', `${slip.host}/once/app:1`, `${proxy.host}/once/app:1`]);
      assert.equal(pushed.digest, app.digest);
      const blobs = pushed.bytesSent;
      assert.equal(
        blobs,
        app.layers.reduce((n, l) => n + l.size, 0) +
          (JSON.parse(app.manifest.toString()) as { config: { size: number } }).config.size,
      );
      // One POST asked, with its body; the others waited for its 202 and sent none. So what
      // crossed the wire is each blob once, that one body again (at most the largest) and the manifest.
      assert.equal(proxy.state.postsWithBody, 1);
      assert.ok(proxy.state.bytesUp < blobs + app.manifest.length + 4096 + Math.max(...app.layers.map((l) => l.size)));
    } finally {
      await proxy.close();
    }
  });

  test('within one registry, blobs are mounted from the source repository, not sent', async () => {
    for (const reg of [slip, dist]) {
      await cli(['copy', `oci:${layout}:base`, `${reg.host}/mount-src/base:1`]);
      const mounted = await report(['copy', `${reg.host}/mount-src/base:1`, `${reg.host}/mount-dst/base:1`]);
      assert.equal(mounted.digest, base.digest);
      assert.equal(mounted.blobsMounted, 3, reg.url);
      assert.equal(mounted.bytesSent, 0, reg.url);
      assert.equal((await cli(['digest', `${reg.host}/mount-dst/base:1`])).trim(), base.digest);
    }
  });

  test('promote makes the digest identical in both places, and refuses what would change it', async () => {
    await cli(['copy', `oci:${layout}:app`, `${dist.host}/staging/app:7`]);
    await cli(['copy', `oci:${layout}:base`, `${slip.host}/prod/app:base`]);
    const promoted = await slipway(home, ['promote', `${dist.host}/staging/app:7`, `${slip.host}/prod/app:7`], env);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, new RegExp(`${app.digest} is now identical in both places`));
    assert.equal((await cli(['digest', `${slip.host}/prod/app:7`])).trim(), app.digest);
    const refused = await slipway(
      home,
      ['promote', `${dist.host}/staging/app:7`, `docker-archive:${join(work.path, 'a.tar')}`],
      env,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /docker archive carries no manifest/);
    assert.equal(existsSync(join(work.path, 'a.tar')), false);
  });

  test('an index: --all copies every platform under the index digest, --platform takes one image', async () => {
    const amd = await addRandomImage(layout, 'multi-amd64', [{ seed: 'multi-amd', size: 200_000 }], {
      os: 'linux',
      architecture: 'amd64',
    });
    const arm = await addRandomImage(layout, 'multi-arm64', [{ seed: 'multi-arm', size: 200_000 }], {
      os: 'linux',
      architecture: 'arm64',
    });
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          [amd, 'amd64'],
          [arm, 'arm64'],
        ].map(([img, arch]) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: (img as GeneratedImage).digest,
          size: (img as GeneratedImage).size,
          platform: { os: 'linux', architecture: arch },
        })),
      }),
    );
    const indexDigest = sha256(index);
    await writeFile(join(layout, 'blobs', 'sha256', indexDigest.slice(7)), index);
    const indexJson = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: unknown[] };
    indexJson.manifests.push({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: indexDigest,
      size: index.length,
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    });
    await writeFile(join(layout, 'index.json'), JSON.stringify(indexJson));

    const all = await report(['copy', '--all', `oci:${layout}:multi`, `${dist.host}/multi/app:1`]);
    assert.equal(all.digest, indexDigest);
    assert.equal((await cli(['digest', `${dist.host}/multi/app:1`])).trim(), indexDigest);
    assert.equal((await cli(['digest', '--platform', 'linux/arm64', `${dist.host}/multi/app:1`])).trim(), arm.digest);
    // registry to registry, one platform: the image, not the index
    const one = await report([
      'copy',
      '--platform',
      'linux/arm64',
      `${dist.host}/multi/app:1`,
      `${slip.host}/multi/arm:1`,
    ]);
    assert.equal(one.digest, arm.digest);
    const pulled = JSON.parse(
      await slipwayOk(join(work.path, 'multi-home'), ['--json', 'pull', '--all', `${dist.host}/multi/app:1`], env),
    ) as Report;
    assert.equal(pulled.digest, indexDigest);
  });

  test('tags, digest, manifest and delete', async () => {
    await cli(['copy', `oci:${layout}:base`, `${dist.host}/listing/base:a`]);
    await cli(['copy', `oci:${layout}:app`, `${dist.host}/listing/base:b`]);
    assert.deepEqual(JSON.parse(await cli(['--json', 'tags', `${dist.host}/listing/base`])).sort(), ['a', 'b']);
    assert.equal(JSON.parse(await cli(['manifest', `${dist.host}/listing/base:b`])).layers.length, 3);
    await cli(['copy', `oci:${layout}:app`, `${dist.host}/listing/base:c`]);
    // Distribution 2.8 deletes manifests only by digest: the tag is re-pointed at a
    // placeholder that is deleted, and the image stays with its other tag.
    const untag = JSON.parse(await cli(['--json', 'delete', `${dist.host}/listing/base:b`]));
    assert.deepEqual(untag, { digest: app.digest, untagged: ['b'], deleted: [], method: 're-pointed' });
    assert.deepEqual(JSON.parse(await cli(['--json', 'tags', `${dist.host}/listing/base`])).sort(), ['a', 'c']);
    assert.equal((await cli(['digest', `${dist.host}/listing/base:c`])).trim(), app.digest);
    const gone = await slipway(home, ['digest', `${dist.host}/listing/base:b`], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /MANIFEST_UNKNOWN|does not exist/);
    // --all-tags deletes the image and says which tags went with it.
    assert.equal(
      (await cli(['delete', '--all-tags', `${dist.host}/listing/base:c`])).trim(),
      `Untagged: ${dist.host}/listing/base:c\nDeleted: ${dist.host}/listing/base@${app.digest}`,
    );
    assert.deepEqual(JSON.parse(await cli(['--json', 'tags', `${dist.host}/listing/base`])), ['a']);
  });

  test('a connection dropped in the middle of a large blob: the upload starts again, the download resumes', async () => {
    const proxy = await startFaultProxy(dist.url, { cutUploadAfter: 4 * MB, cutDownloadAfter: 10 * MB });
    try {
      const pushed = await report(['copy', `oci:${layout}:big`, `${proxy.host}/cut/big:1`]);
      assert.equal(pushed.digest, big.digest);
      assert.equal(proxy.state.uploadCuts, 1, 'the proxy cut one upload');
      const fresh = join(work.path, 'cut-home');
      const pulled = JSON.parse(await slipwayOk(fresh, ['--json', 'pull', `${proxy.host}/cut/big:1`], env)) as Report;
      assert.equal(pulled.digest, big.digest);
      assert.equal(proxy.state.downloadCuts, 1, 'the proxy cut one download');
      assert.ok(proxy.state.rangeRequests >= 1, 'the download resumed with a Range request');
      await slipwayOk(fresh, ['verify'], env);
      const layer = join(fresh, 'blobs', 'sha256', big.layers[0]!.digest.slice(7));
      assert.equal(
        createHash('sha256')
          .update(await readFile(layer))
          .digest('hex'),
        big.layers[0]!.digest.slice(7),
      );
    } finally {
      await proxy.close();
    }
  });

  test('a registry answering wrong bytes for a digest is refused, and nothing is stored', async () => {
    await cli(['copy', `oci:${layout}:app`, `${dist.host}/corrupt/app:1`]);
    const proxy = await startFaultProxy(dist.url, { corruptBlobsOver: 100_000 });
    try {
      const fresh = join(work.path, 'corrupt-home');
      const r = await slipway(fresh, ['pull', `${proxy.host}/corrupt/app:1`], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /digest/i);
      assert.ok(proxy.state.corrupted >= 1);
      assert.deepEqual(JSON.parse(await slipwayOk(fresh, ['--json', 'images'], env)), []);
      const stored = await readdir(join(fresh, 'blobs', 'sha256')).catch(() => [] as string[]);
      for (const layer of app.layers)
        assert.ok(!stored.includes(layer.digest.slice(7)), `layer ${layer.digest} must not be stored`);
      await slipwayOk(fresh, ['verify'], env);
    } finally {
      await proxy.close();
    }
  });
});

describe('registry auth against Distribution: htpasswd, credential helpers, and tokens from Slipway', {
  skip: !process.env.CI && !haveTools && 'skopeo, openssl or docker-registry is not installed',
}, () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let layout: string;
  let home: string;
  let basic: RegistryProcess;

  before(async () => {
    work = await tempDir('slipway-client-auth');
    layout = join(work.path, 'layout');
    home = join(work.path, 'home');
    await addRandomImage(layout, 'img', [{ seed: 'auth-layer', size: 256 * 1024 }]);
    const htpasswd = join(work.path, 'htpasswd');
    await writeFile(htpasswd, `alice:${bcrypt.hashSync('wonderland', 10)}\n`);
    basic = await startDistribution(join(work.path, 'dist-basic'), [
      'auth:',
      '  htpasswd:',
      '    realm: test',
      `    path: ${htpasswd}`,
    ]);
  });
  after(async () => {
    await basic?.stop();
    await work?.cleanup();
  });

  test('without credentials a push is refused clearly; login checks and saves them; logout forgets them', async () => {
    const authFile = join(work.path, 'auth.json');
    const env = isolatedEnv(work.path, { REGISTRY_AUTH_FILE: authFile });
    const denied = await slipway(home, ['copy', `oci:${layout}:img`, `${basic.host}/team/img:1`], env);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /UNAUTHORIZED.*slipway login/);

    const wrong = await slipway(home, ['login', basic.host, '-u', 'alice', '--password-stdin'], env, 'nope\n');
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused user alice: check the user name and password/);
    assert.equal(existsSync(authFile), false, 'nothing saved for a failed login');

    await slipwayOk(home, ['login', basic.host, '-u', 'alice', '--password-stdin'], env, 'wonderland\n');
    const saved = JSON.parse(await readFile(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(saved.auths[basic.host]!.auth, 'base64').toString(), 'alice:wonderland');
    await slipwayOk(home, ['copy', `oci:${layout}:img`, `${basic.host}/team/img:1`], env);
    // skopeo reads the same file
    await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--authfile',
      authFile,
      `docker://${basic.host}/team/img:1`,
    ]);

    await slipwayOk(home, ['logout', basic.host], env);
    assert.deepEqual(JSON.parse(await readFile(authFile, 'utf8')).auths, {});
    assert.equal((await slipway(home, ['tags', `${basic.host}/team/img`], env)).code, 1);
    // flags (or $SLIPWAY_CREDS) for CI, without a login
    assert.deepEqual(
      JSON.parse(
        await slipwayOk(home, ['--json', 'tags', '--creds', 'alice:wonderland', `${basic.host}/team/img`], env),
      ),
      ['1'],
    );
    assert.deepEqual(
      JSON.parse(
        await slipwayOk(home, ['--json', 'tags', `${basic.host}/team/img`], {
          ...env,
          SLIPWAY_CREDS: 'alice:wonderland',
        }),
      ),
      ['1'],
    );
  });

  test("credentials from docker's config.json: base64 auths and a credHelpers program", async () => {
    const dir = join(work.path, 'docker-home');
    const env = isolatedEnv(dir, { PATH: `${join(dir, 'bin')}:${process.env.PATH}` });
    await mkdir(join(dir, '.docker'), { recursive: true });
    await mkdir(join(dir, 'bin'), { recursive: true });
    const helper = join(dir, 'bin', 'docker-credential-slipwaytest');
    await writeFile(
      helper,
      `#!/bin/sh\nread host\necho "$1 $host" >> ${join(dir, 'helper.log')}\n[ "$host" = "${basic.host}" ] || { echo "credentials not found in native keychain"; exit 1; }\necho '{"ServerURL":"'"$host"'","Username":"alice","Secret":"wonderland"}'\n`,
    );
    await chmod(helper, 0o755);
    await writeFile(
      join(dir, '.docker', 'config.json'),
      JSON.stringify({ credHelpers: { [basic.host]: 'slipwaytest' } }),
    );
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'tags', `${basic.host}/team/img`], env)), ['1']);
    assert.match(await readFile(join(dir, 'helper.log'), 'utf8'), new RegExp(`^get ${basic.host}$`, 'm'));

    await writeFile(
      join(dir, '.docker', 'config.json'),
      JSON.stringify({
        auths: { [`https://${basic.host}/`]: { auth: Buffer.from('alice:wonderland').toString('base64') } },
      }),
    );
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'tags', `${basic.host}/team/img`], env)), ['1']);
  });

  test("token auth: Distribution trusts the tokens of Slipway's token server", async () => {
    const tokenHome = join(work.path, 'token-home');
    const env = isolatedEnv(work.path);
    await slipwayOk(
      tokenHome,
      ['registry', 'user', 'add', 'bob', '--password-stdin', '--grant', 'team/:pull,push,delete'],
      env,
      'builder\n',
    );
    const tokens = await startSlipwayRegistry(tokenHome, ['--auth', 'token', '--service', 'dist-token']);
    let distToken: RegistryProcess | undefined;
    try {
      // Distribution trusts a key through a certificate in its rootcertbundle.
      const jwk = JSON.parse(await readFile(join(tokenHome, 'registry', 'token-key.jwk'), 'utf8'));
      const keyPem = join(work.path, 'token-key.pem');
      await writeFile(keyPem, createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }));
      const certPem = join(work.path, 'token-cert.pem');
      await run('openssl', [
        'req',
        '-x509',
        '-new',
        '-key',
        keyPem,
        '-subj',
        '/CN=slipway-token',
        '-days',
        '2',
        '-out',
        certPem,
      ]);
      distToken = await startDistribution(join(work.path, 'dist-token'), [
        'auth:',
        '  token:',
        `    realm: ${tokens.url}/token`,
        '    service: dist-token',
        '    issuer: slipway',
        `    rootcertbundle: ${certPem}`,
      ]);
      const pushed = JSON.parse(
        await slipwayOk(
          home,
          ['--json', 'copy', '--dest-creds', 'bob:builder', `oci:${layout}:img`, `${distToken.host}/team/img:1`],
          env,
        ),
      ) as Report;
      assert.equal(pushed.blobsSent, 2);
      assert.equal(
        (await slipwayOk(home, ['digest', '--creds', 'bob:builder', `${distToken.host}/team/img:1`], env)).trim(),
        pushed.digest,
      );
      const anonymous = await slipway(home, ['digest', `${distToken.host}/team/img:1`], env);
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /token request .* refused|UNAUTHORIZED/);
      const outside = await slipway(
        home,
        ['copy', '--dest-creds', 'bob:builder', `oci:${layout}:img`, `${distToken.host}/other/img:1`],
        env,
      );
      assert.equal(outside.code, 1, 'bob may not push outside team/');
      // skopeo goes through the same token flow
      await run('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        '--creds',
        'bob:builder',
        `docker://${distToken.host}/team/img:1`,
      ]);
    } finally {
      await distToken?.stop();
      await tokens.stop();
    }
  });

  test('TLS with a custom CA: trusted with --ca-file, refused without', async () => {
    const dir = join(work.path, 'tls');
    await mkdir(dir, { recursive: true });
    const p = (f: string) => join(dir, f);
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.pem'),
      '-subj',
      '/CN=slipway-test-ca',
      '-days',
      '2',
    ]);
    await run('openssl', [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      p('server.key'),
      '-out',
      p('server.csr'),
      '-subj',
      '/CN=127.0.0.1',
    ]);
    await writeFile(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      p('server.csr'),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p('server.pem'),
      '-days',
      '2',
      '-extfile',
      p('ext.cnf'),
    ]);
    const secure = await startSlipwayRegistry(join(work.path, 'tls-home'), [
      '--tls-cert',
      p('server.pem'),
      '--tls-key',
      p('server.key'),
    ]);
    try {
      const env = isolatedEnv(work.path);
      const host = secure.host;
      const pushed = JSON.parse(
        await slipwayOk(
          home,
          ['--json', 'copy', '--ca-file', p('ca.pem'), `oci:${layout}:img`, `${host}/team/img:1`],
          env,
        ),
      ) as Report;
      assert.equal(
        (await slipwayOk(home, ['digest', '--ca-file', p('ca.pem'), `${host}/team/img:1`], env)).trim(),
        pushed.digest,
      );
      // certs.d, as podman and docker read it
      const certsD = join(dir, 'certs.d');
      await mkdir(join(certsD, host), { recursive: true });
      await writeFile(join(certsD, host, 'ca.crt'), await readFile(p('ca.pem')));
      const untrusted = await slipway(home, ['digest', `${host}/team/img:1`], env);
      assert.equal(untrusted.code, 1, 'plain http to a TLS registry fails');
      assert.equal(
        (await slipwayOk(home, ['digest', '--cert-dir', certsD, `${host}/team/img:1`], env)).trim(),
        pushed.digest,
      );
    } finally {
      await secure.stop();
    }
  });
});

interface FaultProxy {
  host: string;
  state: {
    uploadCuts: number;
    downloadCuts: number;
    rangeRequests: number;
    corrupted: number;
    bytesUp: number;
    postsWithBody: number;
  };
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a real registry that injects what a real registry does
 * not do on demand: drop the connection once in the middle of an upload or of a blob
 * download, or flip a byte in blobs larger than a size.
 */
async function startFaultProxy(
  target: string,
  fault: { cutUploadAfter?: number; cutDownloadAfter?: number; corruptBlobsOver?: number },
): Promise<FaultProxy> {
  const state = { uploadCuts: 0, downloadCuts: 0, rangeRequests: 0, corrupted: 0, bytesUp: 0, postsWithBody: 0 };
  const server: Server = createServer((req, res) => {
    if (req.headers.range) state.rangeRequests++;
    const upstream = httpRequest(new URL(req.url!, target), { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      const blobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url!) && up.statusCode! < 300;
      const length = Number(up.headers['content-length'] ?? 0);
      let seen = 0;
      up.on('data', (chunk: Buffer) => {
        if (blobGet && fault.corruptBlobsOver !== undefined && length > fault.corruptBlobsOver && seen === 0) {
          chunk = Buffer.from(chunk);
          chunk[chunk.length - 1]! ^= 0xff;
          state.corrupted++;
        }
        seen += chunk.length;
        if (
          blobGet &&
          fault.cutDownloadAfter !== undefined &&
          state.downloadCuts === 0 &&
          seen > fault.cutDownloadAfter
        ) {
          state.downloadCuts++;
          up.destroy();
          res.socket?.destroy();
          return;
        }
        res.write(chunk);
      });
      up.on('end', () => res.end());
    });
    upstream.on('error', () => res.socket?.destroy());
    let sent = 0;
    req.on('data', (chunk: Buffer) => {
      if (sent === 0 && req.method === 'POST') state.postsWithBody++;
      sent += chunk.length;
      state.bytesUp += chunk.length;
      if (fault.cutUploadAfter !== undefined && state.uploadCuts === 0 && sent > fault.cutUploadAfter) {
        state.uploadCuts++;
        upstream.destroy();
        req.socket.destroy();
        return;
      }
      upstream.write(chunk);
    });
    req.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
