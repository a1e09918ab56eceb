import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { ownerString } from './owner.js';
import type { ManifestRecord, MetadataStore } from './types.js';

/** What a back-end gives the contract for each test: an empty store, and more connections to it. */
export interface MetadataHarness {
  store: MetadataStore;
  /**
   * Another connection to the same store (another process or node would have one).
   * Its writes must wait for GC without failing, even when GC outlasts `waitMs`.
   */
  connect(options: { waitMs: number }): Promise<MetadataStore>;
}

/**
 * The one contract every MetadataStore keeps (SQLite and PostgreSQL run the same
 * tests): records, references, paging in byte order, tags, referrers, cascades,
 * leases, GC's live set and its lock against writers of this and other connections.
 *
 * `open` must give an empty store for each test (closed after it); `cleanup` runs once after the last.
 *
 * @example
 * describeMetadataStore('SqliteMetadataStore', async () => { ... return { store, connect } });
 */
export function describeMetadataStore(
  name: string,
  open: () => Promise<MetadataHarness>,
  cleanup?: () => Promise<void>,
): void {
  describe(name, () => {
    let meta: MetadataStore;
    let harness: MetadataHarness;
    beforeEach(async () => {
      harness = await open();
      meta = harness.store;
    });
    afterEach(async () => {
      await meta.close().catch(() => undefined);
    });
    if (cleanup) after(cleanup);

    it('records a manifest with its references, annotations and tags, and links its references', async () => {
      const record = manifest('org/app', 'a', {
        annotations: { 'org.opencontainers.image.title': 'a' },
        artifactType: 'application/x-test',
      });
      await meta.putManifest(record, ['v1', 'latest']);
      assert.deepEqual(await meta.getManifest('org/app', record.digest), record);
      assert.equal(await meta.resolveTag('org/app', 'latest'), record.digest);
      assert.equal(await meta.hasBlobLink('org/app', record.references[1]!), true);
      assert.equal(await meta.hasBlobLink('other', record.references[1]!), false);
      assert.deepEqual(await meta.listTagged(), [
        { repository: 'org/app', tag: 'latest', digest: record.digest, updated: (await meta.listTagged())[0]!.updated },
        { repository: 'org/app', tag: 'v1', digest: record.digest, updated: (await meta.listTagged())[1]!.updated },
      ]);
      // Putting the same manifest again keeps one record and moves tags only.
      await meta.putManifest(record, ['v2']);
      assert.equal((await meta.listManifests('org/app')).length, 1);
      assert.deepEqual(await meta.listTags('org/app'), ['latest', 'v1', 'v2']);
    });

    it('keeps repeated references in order', async () => {
      const record = manifest('app', 'dup', { references: [d('c'), d('l1'), d('l1'), d('l0')] });
      await meta.putManifest(record);
      assert.deepEqual((await meta.getManifest('app', record.digest))?.references, [d('c'), d('l1'), d('l1'), d('l0')]);
    });

    it('pages tags in lexical order with n and last, as the distribution spec does', async () => {
      const record = manifest('app', 'x');
      const tags = ['b', 'a', 'C', '1.0', 'a10', 'a2', 'z'];
      await meta.putManifest(record, tags);
      const sorted = ['1.0', 'C', 'a', 'a10', 'a2', 'b', 'z'];
      assert.deepEqual(await meta.listTags('app'), sorted);
      assert.deepEqual(await meta.listTags('app', { n: 3 }), ['1.0', 'C', 'a']);
      assert.deepEqual(await meta.listTags('app', { n: 3, last: 'a' }), ['a10', 'a2', 'b']);
      assert.deepEqual(await meta.listTags('app', { n: 3, last: 'b' }), ['z']);
      assert.deepEqual(await meta.listTags('app', { last: 'z' }), []);
      assert.deepEqual(await meta.listTags('app', { last: 'a1' }), ['a10', 'a2', 'b', 'z'], 'last need not be a tag');
      assert.deepEqual(await meta.listTags('app', { n: 0 }), []);
      await assert.rejects(meta.listTags('app', { n: -1 }), (e) => isSlipwayError(e, 'INVALID_ARGUMENT'));
      await assert.rejects(meta.listTags('nope'), (e) => isSlipwayError(e, 'NAME_UNKNOWN'));
    });

    it('pages repositories likewise, including those that only have linked blobs', async () => {
      for (const repo of ['team/b', 'team/a', 'alpha', 'team/a/sub']) await meta.putManifest(manifest(repo, repo));
      await meta.linkBlob('zeta', d('pushed'));
      assert.deepEqual(await meta.listRepositories(), ['alpha', 'team/a', 'team/a/sub', 'team/b', 'zeta']);
      assert.deepEqual(await meta.listRepositories({ n: 2 }), ['alpha', 'team/a']);
      assert.deepEqual(await meta.listRepositories({ n: 2, last: 'team/a' }), ['team/a/sub', 'team/b']);
      assert.deepEqual(await meta.listTags('zeta'), []);
    });

    it('deletes a repository and those below it, with their manifests, tags and links, and nothing else', async () => {
      for (const repo of ['apps/x', 'apps/x/cache', 'apps/x-other', 'apps/xy'])
        await meta.putManifest(manifest(repo, repo), ['v1']);
      await meta.linkBlob('apps/x', d('layer only linked'));
      assert.equal(await meta.deleteRepositories('apps/x'), 2);
      assert.deepEqual(await meta.listRepositories(), ['apps/x-other', 'apps/xy']);
      assert.equal(await meta.hasBlobLink('apps/x', d('layer only linked')), false);
      assert.equal(await meta.resolveTag('apps/x/cache', 'v1'), undefined);
      assert.equal(await meta.resolveTag('apps/xy', 'v1'), d('manifest apps/xy'));
      assert.equal(await meta.deleteRepositories('apps/none'), 0);
    });

    it('finds a manifest by tag or digest in one read, only in its repository', async () => {
      const record = manifest('team/app', 'a');
      await meta.putManifest(record, ['v1']);
      const desc = { mediaType: record.mediaType, digest: record.digest, size: record.size };
      assert.deepEqual(await meta.findManifest('team/app', { tag: 'v1' }), desc);
      assert.deepEqual(await meta.findManifest('team/app', { digest: record.digest }), desc);
      assert.equal(await meta.findManifest('team/app', { tag: 'v2' }), undefined);
      assert.equal(await meta.findManifest('other', { digest: record.digest }), undefined);
    });

    it('lists the repositories a blob is linked to, in name order, up to a limit', async () => {
      for (const repo of ['team/b', 'team/a', 'other']) await meta.linkBlob(repo, d('shared'));
      assert.deepEqual(await meta.linkedRepositories(d('shared'), 10), ['other', 'team/a', 'team/b']);
      assert.deepEqual(await meta.linkedRepositories(d('shared'), 1), ['other']);
      assert.deepEqual(await meta.linkedRepositories(d('nowhere'), 10), []);
    });

    it('finds referrers by subject within a repository', async () => {
      const image = manifest('app', 'img');
      await meta.putManifest(image, ['latest']);
      const sbom = manifest('app', 'sbom', {
        subject: image.digest,
        artifactType: 'application/spdx+json',
        annotations: { kind: 'sbom' },
      });
      const sig = manifest('app', 'sig', { subject: image.digest, artifactType: 'application/vnd.dev.cosign' });
      await meta.putManifest(sbom);
      await meta.putManifest(sig);
      await meta.putManifest(manifest('other', 'sbom2', { subject: image.digest }));
      const found = await meta.referrers('app', image.digest);
      assert.deepEqual(found.map((r) => r.digest).sort(), [sbom.digest, sig.digest].sort());
      assert.equal(found.find((r) => r.digest === sbom.digest)?.annotations?.['kind'], 'sbom');
      assert.deepEqual(await meta.referrers('app', sbom.digest), []);
    });

    it('moves, deletes and refuses tags', async () => {
      const a = manifest('app', 'a');
      const b = manifest('app', 'b');
      await meta.putManifest(a, ['latest']);
      await meta.putManifest(b);
      await meta.setTag('app', 'latest', b.digest);
      assert.equal(await meta.resolveTag('app', 'latest'), b.digest);
      await assert.rejects(
        meta.setTag('app', 'x', d('nothing')),
        (e) => isSlipwayError(e, 'MANIFEST_UNKNOWN') && e.message.includes(d('nothing')),
      );
      await assert.rejects(meta.setTag('app', '-bad', a.digest), (e) => isSlipwayError(e, 'INVALID_REFERENCE'));
      assert.equal(await meta.deleteTag('app', 'latest'), true);
      assert.equal(await meta.deleteTag('app', 'latest'), false);
      assert.equal(await meta.resolveTag('app', 'latest'), undefined);
    });

    it('refuses invalid repository names', async () => {
      await assert.rejects(meta.putManifest(manifest('Bad/Name', 'x')), (e) => isSlipwayError(e, 'INVALID_REFERENCE'));
      await assert.rejects(meta.linkBlob('a//b', d('x')), (e) => isSlipwayError(e, 'INVALID_REFERENCE'));
    });

    it('deletes a manifest with its tags, and refuses while an index in the repository references it', async () => {
      const child = manifest('app', 'child');
      await meta.putManifest(child, ['child']);
      const index = manifest('app', 'index', { mediaType: MediaType.OciIndex, references: [child.digest] });
      await meta.putManifest(index, ['latest']);
      await assert.rejects(
        meta.deleteManifest('app', child.digest),
        (e) => isSlipwayError(e, 'CONFLICT') && e.message.includes(index.digest),
      );
      assert.equal(await meta.deleteManifest('app', index.digest), true);
      assert.equal(await meta.resolveTag('app', 'latest'), undefined);
      assert.equal(await meta.deleteManifest('app', child.digest), true);
      assert.equal(await meta.deleteManifest('app', child.digest), false);
      assert.deepEqual(await meta.listTags('app'), []);
      assert.deepEqual(await meta.listManifests(), []);
    });

    it('gives GC the live set: manifests, references, leased blobs and fresh links', async () => {
      const record = manifest('app', 'live');
      await meta.putManifest(record, ['latest']);
      const lease = await meta.createLease(ownerString());
      await meta.addToLease(lease, d('leased'));
      await meta.linkBlob('app', d('just pushed'));
      let live = new Set<Digest>();
      await meta.withGcLock({ linkGraceMs: 60_000 }, async (l) => {
        live = l;
        return [];
      });
      assert.deepEqual([...live].sort(), [record.digest, ...record.references, d('leased'), d('just pushed')].sort());

      // Without grace the pushed blob is no longer needed; deleting it removes its link.
      await meta.releaseLease(lease);
      const deleted = await meta.withGcLock({ linkGraceMs: -1000 }, async (l) => {
        assert.equal(l.has(d('leased')), false, 'a released lease protects nothing');
        assert.equal(l.has(d('just pushed')), false);
        return [d('just pushed')];
      });
      assert.deepEqual(deleted, [d('just pushed')]);
      assert.equal(await meta.hasBlobLink('app', d('just pushed')), false);
      assert.equal(await meta.hasBlobLink('app', record.references[0]!), true, 'links of needed blobs stay');
    });

    it('drops the leases of dead owners on this host, keeps live and foreign ones', async () => {
      const dead = await meta.createLease(ownerString({ pid: deadPid(), host: hostname() }));
      const foreign = await meta.createLease(ownerString({ pid: deadPid(), host: 'some-other-host' }));
      const mine = await meta.createLease(ownerString());
      for (const [lease, name] of [
        [dead, 'dead'],
        [foreign, 'foreign'],
        [mine, 'mine'],
      ] as const)
        await meta.addToLease(lease, d(name));
      let live = new Set<Digest>();
      await meta.withGcLock({ linkGraceMs: 0 }, async (l) => {
        live = l;
        return [];
      });
      assert.deepEqual([...live].sort(), [d('foreign'), d('mine')].sort());
      await assert.rejects(
        meta.addToLease(dead, d('late')),
        (e) => isSlipwayError(e, 'CONFLICT'),
        'a reclaimed lease cannot protect anything',
      );
    });

    it('adds several blobs to a lease at once, and refuses a gone lease without adding any', async () => {
      const lease = await meta.createLease(ownerString());
      await meta.addManyToLease(lease, [d('one'), d('two'), d('one')]);
      await meta.addManyToLease(lease, []);
      let live = new Set<Digest>();
      await meta.withGcLock({ linkGraceMs: 0 }, async (l) => {
        live = l;
        return [];
      });
      assert.deepEqual([...live].sort(), [d('one'), d('two')].sort());
      await meta.releaseLease(lease);
      for (const digests of [[d('three'), d('four')], []])
        await assert.rejects(
          meta.addManyToLease(lease, digests),
          (e) => isSlipwayError(e, 'CONFLICT'),
          'a released lease protects nothing',
        );
      await meta.withGcLock({ linkGraceMs: 0 }, async (l) => {
        live = l;
        return [];
      });
      assert.deepEqual([...live], [], 'nothing of the refused batch was added');
    });

    it('makes writers of this process wait until GC is done, and rolls back when GC fails', async () => {
      const order: string[] = [];
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const gc = meta.withGcLock({ linkGraceMs: 0 }, async () => {
        entered();
        await new Promise((r) => setTimeout(r, 50));
        order.push('gc done');
        return [];
      });
      await inside;
      const write = meta.createLease(ownerString()).then(() => order.push('lease created'));
      await Promise.all([gc, write]);
      assert.deepEqual(order, ['gc done', 'lease created']);

      await meta.linkBlob('app', d('kept'));
      await assert.rejects(
        meta.withGcLock({ linkGraceMs: -1000 }, async () => {
          throw new Error('sweep failed');
        }),
        /sweep failed/,
      );
      assert.equal(await meta.hasBlobLink('app', d('kept')), true);
      await meta.createLease(ownerString()); // the connection is usable again
    });

    it('makes a second connection of this process wait for GC instead of blocking the event loop', async () => {
      const other = await harness.connect({ waitMs: 1000 });
      try {
        let entered!: () => void;
        const inside = new Promise<void>((r) => (entered = r));
        const gc = meta.withGcLock({ linkGraceMs: 0 }, async () => {
          entered();
          await new Promise((r) => setTimeout(r, 1500)); // longer than other's busy timeout
          return [];
        });
        await inside;
        await other.createLease(ownerString()); // would fail with SQLITE_BUSY without the shared gate
        await gc;
      } finally {
        await other.close();
      }
    });

    it('lets another connection read while GC holds the write lock, and write after it', async () => {
      const other = await harness.connect({ waitMs: 5000 });
      try {
        await meta.putManifest(manifest('app', 'a'), ['latest']);
        await meta.withGcLock({ linkGraceMs: 0 }, async () => {
          assert.equal(await other.resolveTag('app', 'latest'), manifest('app', 'a').digest);
          return [];
        });
        await other.setTag('app', 'other', manifest('app', 'a').digest);
        assert.deepEqual(await meta.listTags('app'), ['latest', 'other']);
      } finally {
        await other.close();
      }
    });

    it('upload states: made once, saved only over the version read, seen by another connection, listed, deleted', async () => {
      const state = {
        id: 'u1',
        version: 1,
        updated: new Date().toISOString(),
        labels: { repository: 'team/app' },
        parts: [],
        tail: 0,
        owner: ownerString(),
      };
      assert.equal(await meta.saveUpload(state), true);
      assert.equal(await meta.saveUpload(state), false, 'an id is made once');
      const other = await harness.connect({ waitMs: 1000 });
      try {
        const next = { ...state, version: 2, multipartId: 'mp-1', parts: [{ number: 1, etag: '"e1"', size: 5 << 20 }] };
        assert.equal(await other.saveUpload(next, 1), true);
        // A writer that read version 1 and went on elsewhere loses: it must resume from what is stored.
        assert.equal(await meta.saveUpload({ ...state, version: 2, tail: 9 }, 1), false);
        assert.deepEqual(await meta.getUpload('u1'), next);
        assert.deepEqual(
          (await meta.listUploads()).map((u) => u.id),
          ['u1'],
        );
        await other.deleteUpload('u1');
        assert.equal(await meta.getUpload('u1'), undefined);
        assert.deepEqual(await meta.listUploads(), []);
      } finally {
        await other.close();
      }
    });
  });
}

const d = (s: string): Digest => digestOf(s);

function manifest(repository: string, name: string, extra: Partial<ManifestRecord> = {}): ManifestRecord {
  return {
    repository,
    digest: d(`manifest ${name}`),
    mediaType: MediaType.OciManifest,
    size: 100,
    references: [d(`config ${name}`), d(`layer ${name}`)],
    created: new Date().toISOString(),
    ...extra,
  };
}

/** The pid of a process that has exited (and been reaped): a dead owner. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}
