import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSlipwayError } from '../../errors.js';
import { readTar } from '../../layer/tar-reader.js';
import { LocalStore } from '../../store/local-store.js';
import { startPostgres, type PostgresCluster } from '../../store/postgres-test-cluster.js';
import { PACKAGES_REPOSITORY, PackageStore } from './package-store.js';
import { openResourcePool } from './resource-pool.js';

/**
 * Pushed packages in the image store, with CF's resource pool as an index into their
 * bytes: on the embedded default (SQLite, a directory) and on PostgreSQL (the pool in
 * the database every node shares).
 */

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`package store (${engine})`, () => {
    let dir: string;
    let pg: PostgresCluster | undefined;
    let database: string | undefined;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'slipway-packages-'));
      if (engine === 'postgres') {
        pg = await startPostgres();
        database = await pg.createDatabase();
      }
    });
    after(async () => {
      await pg?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    /** A store and package store; two of them on one database are two nodes. */
    const open = async (name: string) => {
      const store = await LocalStore.open(join(dir, 'home'), database ? { database } : {});
      const pool = openResourcePool({ database, file: join(dir, 'home', 'resource-pool.sqlite') });
      return {
        store,
        packages: new PackageStore(store, pool),
        close: async () => {
          await pool.close();
          await store.close();
        },
        name,
      };
    };

    const zipOf = (files: Record<string, { text: string; mode?: number }>, name: string): string => {
      const src = join(dir, `src-${name}`);
      for (const [path, f] of Object.entries(files)) {
        mkdirSync(join(src, path, '..'), { recursive: true });
        writeFileSync(join(src, path), f.text);
        chmodSync(join(src, path), f.mode ?? 0o644);
      }
      const zip = join(dir, `${name}.zip`);
      execFileSync('zip', ['-q', '-X', '-r', zip, '.'], { cwd: src });
      return zip;
    };

    test('a second push sends only the changed file; the package holds all, with modes, on another node too', async () => {
      const a = await open('a');
      const b = await open('b');
      try {
        const first = zipOf(
          {
            Procfile: { text: 'web: bin/run\n' },
            'bin/run': { text: '#!/bin/sh\necho hi\n', mode: 0o755 },
            'lib/empty': { text: '' },
          },
          'first',
        );
        await a.packages.store('p1', createReadStream(first), []);
        // The second push: the client asks what the platform has (through node B) and sends the rest.
        const asked = [
          { path: 'Procfile', mode: '644', sha1: sha1('web: bin/run\n'), size: 13 },
          { path: 'bin/run', mode: '755', sha1: sha1('#!/bin/sh\necho hi\n'), size: 18 },
          { path: 'greeting.txt', mode: '644', sha1: sha1('hello again\n'), size: 12 },
        ];
        const matched = await b.packages.matches(asked);
        assert.deepEqual(
          matched.map((r) => r.path),
          ['Procfile', 'bin/run'],
        );
        const second = zipOf({ 'greeting.txt': { text: 'hello again\n' } }, 'second');
        const { checksum } = await b.packages.store('p2', createReadStream(second), matched);
        assert.match(checksum, /^[0-9a-f]{64}$/);

        const out = join(dir, 'out-p2');
        mkdirSync(out);
        await a.packages.extract('p2', out);
        assert.equal(readFileSync(join(out, 'Procfile'), 'utf8'), 'web: bin/run\n');
        assert.equal(readFileSync(join(out, 'greeting.txt'), 'utf8'), 'hello again\n');
        assert.equal(statSync(join(out, 'bin/run')).mode & 0o777, 0o755);

        const seen: Record<string, string> = {};
        for await (const { entry, content } of readTar(await b.packages.tar('p2'))) {
          const chunks: Buffer[] = [];
          for await (const c of content) chunks.push(c as Buffer);
          seen[entry.path] = Buffer.concat(chunks).toString();
        }
        assert.deepEqual(seen, {
          Procfile: 'web: bin/run\n',
          'bin/run': '#!/bin/sh\necho hi\n',
          'greeting.txt': 'hello again\n',
        });
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('a matched file the platform does not have is refused, naming it; a dropped package is gone after GC', async () => {
      const a = await open('a');
      try {
        const ghost = { path: 'ghost.txt', mode: '644', sha1: sha1('never sent'), size: 10 };
        await assert.rejects(a.packages.store('p3', undefined, [ghost]), (err: unknown) => {
          assert.ok(isSlipwayError(err, 'INVALID_ARGUMENT'));
          assert.match((err as Error).message, /ghost\.txt .* send it in the package bits/);
          return true;
        });
        const only = zipOf({ 'only.txt': { text: 'only in p4\n' } }, 'p4');
        await a.packages.store('p4', createReadStream(only), []);
        const asked = [{ path: 'only.txt', mode: '644', sha1: sha1('only in p4\n'), size: 11 }];
        assert.equal((await a.packages.matches(asked)).length, 1);
        await a.packages.drop('p4');
        await a.store.gc({ linkGraceMs: 0 });
        assert.equal((await a.packages.matches(asked)).length, 0, 'the pool forgets bytes GC took');
        await assert.rejects(a.packages.extract('p4', join(dir, 'nowhere')), (err: unknown) =>
          isSlipwayError(err, 'NOT_FOUND'),
        );
        assert.equal(await a.store.meta.resolveTag(PACKAGES_REPOSITORY, 'p4'), undefined);
      } finally {
        await a.close();
      }
    });

    test("an older Slipway's packages on the host (packages/<guid>/files.json, resources/<aa>/<sha1>) move into the store once", async () => {
      const legacy = join(dir, 'legacy-home');
      const put = (text: string) => {
        const h = sha1(text);
        mkdirSync(join(legacy, 'resources', h.slice(0, 2)), { recursive: true });
        writeFileSync(join(legacy, 'resources', h.slice(0, 2), h), text);
        return h;
      };
      const files = [
        { path: 'server.js', mode: '755', sha1: put('console.log(1)\n'), size: 15 },
        { path: 'lib/a.txt', mode: '644', sha1: put('aaa'), size: 3 },
      ];
      mkdirSync(join(legacy, 'packages', 'old-1'), { recursive: true });
      writeFileSync(join(legacy, 'packages', 'old-1', 'files.json'), JSON.stringify(files));
      const a = await open('a');
      try {
        assert.equal(await a.packages.importLegacy(legacy), 1);
        const out = join(dir, 'legacy-out');
        mkdirSync(out);
        await a.packages.extract('old-1', out);
        assert.equal(readFileSync(join(out, 'server.js'), 'utf8'), 'console.log(1)\n');
        assert.equal(statSync(join(out, 'server.js')).mode & 0o777, 0o755);
        assert.equal(readFileSync(join(out, 'lib/a.txt'), 'utf8'), 'aaa');
        // The old directories are gone; a second start has nothing to move.
        assert.throws(() => statSync(join(legacy, 'packages')));
        assert.throws(() => statSync(join(legacy, 'resources')));
        assert.equal(await a.packages.importLegacy(legacy), 0);
        // The moved files are in the resource pool: a later push may match them.
        assert.deepEqual(
          (await a.packages.matches([{ path: 'x.js', sha1: files[0]!.sha1, size: 15, mode: '644' }])).length,
          1,
        );
      } finally {
        await a.close();
      }
    });

    test('a zip with a link or a path out of the package is refused and stores nothing', async () => {
      const a = await open('a');
      try {
        const src = join(dir, 'src-hostile');
        mkdirSync(src, { recursive: true });
        writeFileSync(join(src, 'ok.txt'), 'ok');
        symlinkSync('/etc/passwd', join(src, 'passwd'));
        const zip = join(dir, 'hostile.zip');
        execFileSync('zip', ['-q', '-X', '--symlinks', '-r', zip, '.'], { cwd: src });
        await assert.rejects(a.packages.store('p5', createReadStream(zip), []), /symbolic link/);
        assert.equal(await a.store.meta.resolveTag(PACKAGES_REPOSITORY, 'p5'), undefined);
      } finally {
        await a.close();
      }
    });
  });
}
