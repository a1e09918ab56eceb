/**
 * `slipway cf push` and the app commands against a real platform: `slipway serve`
 * in-process (its router, one build worker, runc), the default stack from the stack
 * cache. One app, a Procfile app in the run image's own perl (slipway/procfile stages
 * it in seconds), is pushed, changed and pushed again, scaled, restarted with a
 * rolling deployment, mapped and unmapped; a second app that exits at once fails to
 * start. Every request goes through the CLI; the app is reached through the router.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CfClient } from '../src/cli/cf/cf-client.js';
import type { CfConfig } from '../src/cli/cf/config.js';
import { type RunningPlatformServer, startPlatformServer } from '../src/server/index.js';
import { ensureDefaultStack } from '../src/stack/default-stack.js';
import { LocalStore } from '../src/store/local-store.js';
import { type CliResult, commandExists, slipway, tempDir } from './helpers.js';

const ADMIN_PASSWORD = 'admin-secret-push';
const DOMAIN = 'apps.push.test';

const SERVER_PL = `use strict;
use IO::Socket::INET;
my $port = $ENV{PORT} || 8080;
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0:$port", Listen => 64, ReuseAddr => 1) or die "cannot listen: $!";
$SIG{TERM} = sub { exit 0 };
$| = 1;
print "listening on $port\\n";
my $greeting = 'hello v1';
while (my $c = $s->accept) {
  while (my $h = <$c>) { last if $h =~ /^\\r?\\n$/ }
  my $body = "$greeting from $ENV{CF_INSTANCE_INDEX}\\n";
  print $c "HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: " . length($body) . "\\r\\nConnection: close\\r\\n\\r\\n$body";
  close $c;
}
`;

const sandbox = process.getuid?.() === 0 && commandExists('runc');

interface PushJson {
  apps: {
    name: string;
    guid: string;
    manifest_warnings: string[];
    upload: {
      files: number;
      matched_files: number;
      uploaded_files: number;
      uploaded_paths: string[];
      zip_bytes: number;
    };
    droplet: string | null;
    summary: {
      state: string;
      routes: string[];
      stack: string | null;
      processes: { type: string; running: number; stats: { state: string }[] }[];
    };
  }[];
}

interface AppJson {
  name: string;
  state: string;
  routes: string[];
  image: string | null;
  digest: string | null;
  processes: {
    type: string;
    instances: number;
    running: number;
    stats: { index: number; state: string; details: string }[];
  }[];
}

describe('slipway cf push and the app commands against slipway serve (router, build worker, runc)', {
  skip: sandbox ? false : 'needs root and runc',
  timeout: 12 * 60_000,
}, () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let store: LocalStore;
  let server: RunningPlatformServer;
  let routerPort: number;
  let config: string;
  let appDir: string;

  const cf = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
    slipway(join(dir.path, 'cli-home'), ['cf', ...args], { SLIPWAY_CF_CONFIG: config, ...env });
  const cfOk = async (args: string[]): Promise<CliResult> => {
    const r = await cf(args);
    assert.equal(r.code, 0, `slipway cf ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const cfJson = async <T>(args: string[]): Promise<T> => JSON.parse((await cfOk([...args, '--json'])).stdout) as T;

  /** GET / through the router with the route's host. */
  const viaRouter = (host: string, path = '/'): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: routerPort, path, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });

  /** Asks until `check` passes (the reconciler and the router converge within seconds). */
  async function eventually<T>(what: string, get: () => Promise<T>, check: (v: T) => boolean, ms = 60_000): Promise<T> {
    const deadline = Date.now() + ms;
    let last: T | undefined;
    while (Date.now() < deadline) {
      last = await get();
      if (check(last)) return last;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.fail(`${what}: still ${JSON.stringify(last)}`);
  }

  before(async () => {
    dir = await tempDir('slipway-cf-push');
    store = await LocalStore.open(join(dir.path, 'home'));
    await ensureDefaultStack(store);
    const passwordFile = join(dir.path, 'admin-password');
    await writeFile(passwordFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
    server = await startPlatformServer({
      store,
      addr: '127.0.0.1:0',
      adminPasswordFile: passwordFile,
      gcIntervalMs: 0,
      gcGraceMs: 3600_000,
      // The server's own complaints (a crashing app makes many): their first lines, to read beside a failure.
      warn: (m) => process.stderr.write(`[serve] ${m.split('\n')[0]}\n`),
      domain: DOMAIN,
      run: { routerAddr: '127.0.0.1:0', buildWorkers: 1, intervalMs: 300, drainMs: 200 },
    });
    routerPort = Number(new URL(server.routerUrl!).port);
    config = join(dir.path, 'cf-config.json');
    const login = await cf(['login', '-a', server.url, '-u', 'admin'], { SLIPWAY_CF_PASSWORD: ADMIN_PASSWORD });
    assert.equal(login.code, 0, login.stderr);
    // The built-in Procfile buildpack under CF's name for it, as an admin buildpack (a lifecycle names only
    // registered ones; the API takes no '/' in a name): staging maps procfile_buildpack to slipway/procfile.
    const admin = new CfClient(JSON.parse(await readFile(config, 'utf8')) as CfConfig);
    await admin.post('/v3/buildpacks', { name: 'procfile_buildpack' }).catch((err: unknown) => {
      if (!/already exists/.test((err as Error).message)) throw err; // the server registers its own
    });
    await cfOk(['create-org', 'acme']);
    await cfOk(['create-space', 'dev', '-o', 'acme']);
    await cfOk(['create-space', 'other', '-o', 'acme']);
    await cfOk(['target', '-o', 'acme', '-s', 'dev']);

    appDir = join(dir.path, 'hello');
    await mkdir(join(appDir, 'lib'), { recursive: true });
    await mkdir(join(appDir, '.git'), { recursive: true });
    await mkdir(join(appDir, 'logs'), { recursive: true });
    await writeFile(join(appDir, 'Procfile'), 'web: perl server.pl\n');
    await writeFile(join(appDir, 'server.pl'), SERVER_PL);
    await writeFile(join(appDir, 'lib/data.txt'), 'some data\n'.repeat(100));
    await writeFile(join(appDir, 'run.sh'), '#!/bin/sh\nexec perl server.pl\n');
    await chmod(join(appDir, 'run.sh'), 0o755);
    await writeFile(join(appDir, '.git/HEAD'), 'ref: refs/heads/main\n');
    await writeFile(join(appDir, 'logs/today.log'), 'not for the platform\n');
    await writeFile(join(appDir, 'secret.env'), 'TOKEN=1\n');
    await writeFile(join(appDir, '.cfignore'), '# local only\nlogs/\n*.env\n');
  });

  after(async () => {
    // Instances outlive a server that closes (the next start adopts them): delete the org, and its
    // containers go, before the server stops and the directory is removed.
    if (server) {
      await cf(['delete-org', 'acme', '-f']);
      const containers = join(dir.path, 'home', 'runtime', 'containers');
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
        const left = await readdir(containers).catch(() => []);
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      await server.close();
    }
    await store?.close();
    await dir?.cleanup();
  });

  it('push --help says what it does, with examples', async () => {
    const r = await cfOk(['push', '--help']);
    for (const flag of [
      '--path',
      '--buildpack',
      '--instances',
      '--memory',
      '--manifest',
      '--strategy',
      '--no-start',
      '--no-route',
      '--random-route',
      '--no-auto-rebase',
      '--var',
      '--vars-file',
    ])
      assert.ok(r.stdout.includes(flag), flag);
    assert.match(r.stdout, /Examples:\n\s+\$ slipway cf push/);
    for (const c of [
      'app',
      'scale',
      'restart',
      'restage',
      'rollback',
      'logs',
      'map-route',
      'unmap-route',
      'update-stack',
      'builds',
      'droplets',
      'revisions',
    ]) {
      const h = await cfOk([c, '--help']);
      assert.match(h.stdout, /Examples?:\n\s+\$ slipway cf /, c);
    }
  });

  it('pushes a Procfile app: only its files go up, it stages, starts and answers through the router', async () => {
    const r = await cfOk(['push', 'hello', '-p', appDir, '-b', 'procfile_buildpack', '-m', '64M']);
    assert.match(r.stdout, /Pushing app hello to org acme \/ space dev as admin\.\.\./);
    assert.match(r.stdout, /Uploading files\.\.\./);
    assert.match(r.stdout, /Staging app and tracing logs\.\.\./);
    assert.match(r.stdout, /Procfile: web -> perl server\.pl/, 'the staging output streams');
    assert.match(r.stdout, /Waiting for app hello to start\.\.\./);
    assert.match(r.stdout, /name:\s+hello\nrequested state:\s+started\nroutes:\s+hello\.apps\.push\.test/);
    assert.match(r.stdout, /stack:\s+default/);
    assert.match(r.stdout, /\tslipway\/procfile/);
    assert.match(r.stdout, /type:\s+web\nsidecars:\s*\ninstances:\s+1\/1\nmemory usage:\s+64M/);
    assert.match(r.stdout, /#0\s+running\s+\d{4}-\d\d-\d\dT/);
    const answer = await eventually(
      'the route',
      () => viaRouter(`hello.${DOMAIN}`),
      (a) => a.status === 200,
    );
    assert.equal(answer.body, 'hello v1 from 0\n');
  });

  it('a second push after a one-line change uploads only that file; unknown manifest keys are warned', async () => {
    await writeFile(join(appDir, 'server.pl'), SERVER_PL.replace("'hello v1'", "'hello v2'"));
    // manifest.yml is one of the default ignores: it is not uploaded either.
    await writeFile(
      join(appDir, 'manifest.yml'),
      'applications:\n- name: hello\n  instances: 1\n  memory: ((mem))\n  buildpacks: [procfile_buildpack]\n  bogus-key: 1\n',
    );
    const r = await cf([
      'push',
      'hello',
      '-p',
      appDir,
      '-f',
      join(appDir, 'manifest.yml'),
      '--var',
      'mem=64M',
      '--json',
    ]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const json = JSON.parse(r.stdout) as PushJson;
    const [pushed] = json.apps;
    assert.deepEqual(pushed!.upload.uploaded_paths, ['server.pl']);
    assert.equal(pushed!.upload.uploaded_files, 1);
    // Procfile, server.pl, run.sh, lib/data.txt: not .git/, .cfignore, manifest.yml, logs/ or *.env.
    assert.equal(pushed!.upload.files, 4);
    assert.equal(pushed!.upload.matched_files, 3);
    assert.ok(pushed!.upload.zip_bytes > 0 && pushed!.upload.zip_bytes < 4096, String(pushed!.upload.zip_bytes));
    assert.ok(
      pushed!.manifest_warnings.some((w) => /bogus/.test(w)),
      JSON.stringify(pushed!.manifest_warnings),
    );
    assert.match(r.stderr, /bogus/, 'the warning is on stderr too');
    assert.equal(pushed!.summary.state, 'STARTED');
    await eventually(
      'the new droplet answers',
      () => viaRouter(`hello.${DOMAIN}`),
      (a) => a.body === 'hello v2 from 0\n',
    );
  });

  it('scale -i 3: app shows three instances, all running', async () => {
    const r = await cfOk(['scale', 'hello', '-i', '3']);
    assert.match(r.stdout, /Scaling app hello in org acme \/ space dev as admin\.\.\./);
    const app = await eventually(
      'three running instances',
      () => cfJson<AppJson>(['app', 'hello']),
      (a) => a.processes[0]!.stats.length === 3 && a.processes[0]!.running === 3,
    );
    assert.equal(app.processes[0]!.instances, 3);
    assert.match(app.image ?? '', /\/acme\/dev\/hello@sha256:[0-9a-f]{64}$/);
    const text = await cfOk(['app', 'hello']);
    assert.match(text.stdout, /instances:\s+3\/3/);
    assert.match(text.stdout, /#2\s+running/);
    assert.match(text.stdout, /image:\s+\S+\/acme\/dev\/hello@sha256:/);
    const apps = await cfOk(['apps']);
    assert.match(apps.stdout, /hello\s+started\s+web:3\/3\s+hello\.apps\.push\.test/);
  });

  it('restart --strategy rolling replaces the instances with a deployment', async () => {
    const r = await cfOk(['restart', 'hello', '--strategy', 'rolling', '--max-in-flight', '2']);
    assert.match(r.stdout, /Creating deployment for app hello\.\.\./);
    assert.match(r.stdout, /Waiting for app to deploy\.\.\./);
    const deployments = await cfJson<{ deployments: { status: string; reason: string }[] }>(['deployments', 'hello']);
    assert.equal(deployments.deployments[0]?.status, 'FINALIZED');
    assert.equal(deployments.deployments[0]?.reason, 'DEPLOYED');
    const answer = await viaRouter(`hello.${DOMAIN}`);
    assert.equal(answer.status, 200);
  });

  it('logs --recent shows the staging (STG) and the app (APP/PROC/WEB) lines', async () => {
    const r = await cfOk(['logs', 'hello', '--recent']);
    assert.match(r.stdout, /^ {3}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d[+-]\d{4} \[STG\/\S*\] OUT /m);
    assert.match(r.stdout, /\[APP\/PROC\/WEB\/\d\] OUT listening on 8080/);
    const json = await cfJson<{ logs: { source_type: string; message: string }[] }>(['logs', 'hello', '--recent']);
    assert.ok(
      json.logs.some((l) => l.source_type === 'RTR'),
      'the router logs the requests',
    );
  });

  it('map-route adds a hostname the router answers; unmap-route takes it away', async () => {
    const r = await cfOk(['map-route', 'hello', DOMAIN, '--hostname', 'greeter']);
    assert.match(r.stdout, /Mapping route greeter\.apps\.push\.test to app hello/);
    await eventually(
      'the new route',
      () => viaRouter(`greeter.${DOMAIN}`),
      (a) => a.status === 200,
    );
    const routes = await cfJson<{ routes: { host: string; apps: string[] }[] }>(['routes']);
    assert.deepEqual(routes.routes.find((x) => x.host === 'greeter')?.apps, ['hello']);
    const unmapped = await cfOk(['unmap-route', 'hello', DOMAIN, '--hostname', 'greeter']);
    assert.match(unmapped.stdout, /Removing route greeter\.apps\.push\.test from app hello/);
    // The route stays, with no destination: as CF's gorouter, which knows a route only from the
    // instances registered on it, the router answers that it does not exist.
    const unrouted = await eventually(
      'no backend',
      () => viaRouter(`greeter.${DOMAIN}`),
      (a) => a.status === 404,
    );
    assert.match(unrouted.body, /Requested route \('greeter\.apps\.push\.test'\) does not exist/);
    const routesLeft = await cfJson<{ routes: { host: string; apps: string[] }[] }>(['routes']);
    assert.deepEqual(routesLeft.routes.find((x) => x.host === 'greeter')?.apps, [], 'the route is still there');
    await cfOk(['delete-route', DOMAIN, '--hostname', 'greeter', '-f']);
    const gone = await cfJson<{ routes: { host: string }[] }>(['routes']);
    assert.ok(!gone.routes.some((x) => x.host === 'greeter'), JSON.stringify(gone.routes));
    assert.equal((await viaRouter(`greeter.${DOMAIN}`)).status, 404);
    assert.equal((await viaRouter(`hello.${DOMAIN}`)).status, 200, 'the app keeps its own route');
  });

  it("a route of another space is CF-RouteTaken's message", async () => {
    await cfOk(['target', '-s', 'other']);
    try {
      const r = await cf(['create-route', DOMAIN, '--hostname', 'hello']);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /slipway: error: Route already exists with host 'hello' for domain 'apps\.push\.test'\. \(CF-RouteTaken: hello\.apps\.push\.test belongs to another space/,
      );
    } finally {
      await cfOk(['target', '-s', 'dev']);
    }
  });

  it('env, set-env and unset-env', async () => {
    await cfOk(['set-env', 'hello', 'GREETING', 'hi']);
    const env = await cfJson<{ environment_variables: Record<string, string> }>(['env', 'hello']);
    assert.equal(env.environment_variables.GREETING, 'hi');
    await cfOk(['unset-env', 'hello', 'GREETING']);
    const text = await cfOk(['env', 'hello']);
    assert.match(text.stdout, /No user-provided env variables have been set/);
  });

  it("droplet download pulls the app's current droplet: the image the platform runs, same digest", async () => {
    const app = await cfJson<AppJson>(['app', 'hello']);
    assert.match(app.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    const layout = join(dir.path, 'hello-layout');
    const r = await slipway(
      join(dir.path, 'cli-home'),
      ['droplet', 'download', 'hello', '--to', `oci:${layout}:hello`, '--json'],
      {
        SLIPWAY_CF_CONFIG: config,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { digest: string; image: string };
    assert.equal(report.digest, app.digest);
    assert.match(report.image, /\/acme\/dev\/hello@sha256:/);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [app.digest],
    );
    // The bits are all there: every blob the manifest names is in the layout.
    const manifest = JSON.parse(await readFile(join(layout, 'blobs', 'sha256', app.digest!.slice(7)), 'utf8')) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    for (const blob of [manifest.config, ...manifest.layers])
      assert.ok((await stat(join(layout, 'blobs', 'sha256', blob.digest.slice(7)))).size > 0, blob.digest);
  });

  it('droplets, builds and revisions list what the pushes made; rollback goes back to a revision', async () => {
    const droplets = await cfJson<{ droplets: { current: boolean }[] }>(['droplets', 'hello']);
    assert.equal(droplets.droplets.length, 2);
    assert.equal(droplets.droplets.filter((d) => d.current).length, 1);
    const builds = await cfJson<{ builds: { state: string }[] }>(['builds', 'hello']);
    assert.deepEqual(
      builds.builds.map((b) => b.state),
      ['STAGED', 'STAGED'],
    );
    const revisions = await cfJson<{ revisions: { version: number; droplet: string }[] }>(['revisions', 'hello']);
    assert.ok(revisions.revisions.length >= 1, JSON.stringify(revisions));
    const listed = await cf(['rollback', 'hello']);
    assert.notEqual(listed.code, 0);
    assert.match(listed.stdout, /revision\s+description\s+deployable\s+revision guid\s+created at/);
    assert.match(listed.stderr, /--version/);
    const first = revisions.revisions[revisions.revisions.length - 1]!;
    const r = await cfOk(['rollback', 'hello', '--version', String(first.version), '-f']);
    assert.match(r.stdout, new RegExp(`Rolling back to revision ${first.version} for app hello`));
    await eventually(
      'the old droplet answers',
      () => viaRouter(`hello.${DOMAIN}`),
      (a) => a.body.startsWith('hello v1'),
    );
  });

  it('an app whose start command exits: push fails, the instance is CRASHED and logs --recent says why', async () => {
    const crashDir = join(dir.path, 'crasher');
    await mkdir(crashDir, { recursive: true });
    await writeFile(join(crashDir, 'Procfile'), 'web: echo "giving up now"; sleep 1; exit 3\n');
    const r = await cf(['push', 'crasher', '-p', crashDir, '-b', 'procfile_buildpack', '-m', '32M']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(
      r.stderr,
      /slipway: error: Start unsuccessful\n\nTIP: use 'slipway cf logs crasher --recent' for more information/,
    );
    assert.match(r.stdout, /FAILED/);
    assert.match(r.stdout, /type:\s+web\nsidecars:\s*\ninstances:\s+0\/1/, 'the summary is shown, as the cf CLI does');
    // CF restarts a crashed instance at once three times, then backs off: it is CRASHED most of the time.
    await eventually(
      'a CRASHED instance',
      () => cfJson<AppJson>(['app', 'crasher']),
      (a) => a.processes[0]!.stats.some((x) => x.state === 'CRASHED'),
    );
    const logs = await cfOk(['logs', 'crasher', '--recent']);
    assert.match(logs.stdout, /\[APP\/PROC\/WEB\/0\] OUT giving up now/);
    assert.match(logs.stdout, /exited with status 3/);
  });

  it('a start command that exits at once: push fails fast, saying why; the instance is CRASHED', async () => {
    const quitter = join(dir.path, 'quitter');
    await mkdir(quitter, { recursive: true });
    await writeFile(join(quitter, 'Procfile'), 'web: echo "not today"; exit 4\n');
    const started = Date.now();
    // A startup timeout of a minute: a push that waited for it would fail with "Start app timeout".
    const r = await cf(['push', 'quitter', '-p', quitter, '-b', 'procfile_buildpack', '-m', '32M'], {
      CF_STARTUP_TIMEOUT: '1',
    });
    const seconds = (Date.now() - started) / 1000;
    try {
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(
        r.stderr,
        /slipway: error: Start unsuccessful\n\nTIP: use 'slipway cf logs quitter --recent' for more information/,
      );
      assert.match(r.stdout, /^Error starting instances: 'APP\/PROC\/WEB: exited with status 4'$/m, r.stdout);
      assert.match(r.stdout, /type:\s+web\nsidecars:\s*\ninstances:\s+0\/1/);
      // Staging is seconds, and the start fails at the crash, not at the end of the startup timeout.
      assert.ok(seconds < 45, `the push took ${seconds} s`);
      // Restarted at once (three times), then backed off: CRASHED, with the reason, between the starts.
      await eventually(
        'a CRASHED instance with its exit status',
        () => cfJson<AppJson>(['app', 'quitter']),
        (a) =>
          a.processes[0]!.stats.some(
            (x) => x.state === 'CRASHED' && x.details === 'APP/PROC/WEB: exited with status 4',
          ),
      );
      const logs = await cfOk(['logs', 'quitter', '--recent']);
      assert.match(logs.stdout, /\[APP\/PROC\/WEB\/0\] OUT not today/);
      assert.match(logs.stdout, /exited with status 4/);
    } finally {
      await cf(['delete', 'quitter', '-f', '-r']);
    }
  });

  it('delete -r takes the app and its route; a second delete is a warning', async () => {
    const gone = await cfOk(['delete', 'crasher', '-f', '-r']);
    assert.match(gone.stdout, /Deleting app crasher in org acme \/ space dev as admin\.\.\.\nOK/);
    await eventually(
      'no route',
      () => viaRouter(`crasher.${DOMAIN}`),
      (a) => a.status === 404,
    );
    const missing = await cfOk(['delete', 'crasher', '-f']);
    assert.match(missing.stderr, /App 'crasher' does not exist\./);
  });

  it('stop and start', async () => {
    const stopped = await cfOk(['stop', 'hello']);
    assert.match(stopped.stdout, /Stopping app hello in org acme \/ space dev as admin\.\.\.\nOK/);
    await eventually(
      'no backend',
      () => viaRouter(`hello.${DOMAIN}`),
      (a) => a.status !== 200,
    );
    const started = await cfOk(['start', 'hello']);
    assert.match(started.stdout, /Starting app hello/);
    await eventually(
      'back',
      () => viaRouter(`hello.${DOMAIN}`),
      (a) => a.status === 200,
    );
    assert.equal((await readFile(join(appDir, 'Procfile'), 'utf8')).trim(), 'web: perl server.pl');
  });

  it('push --no-auto-rebase pins the app; update-stack --rollout reports which app runs which version', async () => {
    const pinned = await cf([
      'push',
      'pinned',
      '-p',
      appDir,
      '-b',
      'procfile_buildpack',
      '-m',
      '32M',
      '--no-manifest',
      '--no-auto-rebase',
      '--json',
    ]);
    assert.equal(pinned.code, 0, `${pinned.stdout}\n${pinned.stderr}`);
    const pushed = (JSON.parse(pinned.stdout) as PushJson).apps[0]!;
    assert.equal(pushed.upload.uploaded_files, 0, 'every file is on the platform already');
    const admin = new CfClient(JSON.parse(await readFile(config, 'utf8')) as CfConfig);
    const app = await admin.get<{ slipway?: { auto_rebase?: boolean } }>(`/v3/apps/${pushed.guid}`);
    assert.equal(app.slipway?.auto_rebase, false);
    const behind = await cfJson<{ apps: unknown[] }>(['apps', '--behind']);
    assert.deepEqual(behind.apps, [], 'every droplet is on the latest version of its stack');
    const r = await cfOk(['update-stack', 'default', '--rollout', '--max-in-flight', '2']);
    assert.match(
      r.stdout,
      /Updating stack default as admin\.\.\.\nOK\n\nStack default is at version \S+ \(unchanged\)/,
    );
    assert.match(r.stdout, /app\s+status\s+from\s+to\s+details/);
    const json = await cfJson<{ version: string; apps: { app: { name: string }; status: string; to: string }[] }>([
      'update-stack',
      'default',
      '--rollout',
    ]);
    const statuses = Object.fromEntries(json.apps.map((a) => [a.app.name, a.status]));
    assert.equal(statuses.hello, 'current', JSON.stringify(json.apps));
    assert.ok(['pinned', 'current'].includes(statuses.pinned ?? ''), JSON.stringify(json.apps));
  });
});
