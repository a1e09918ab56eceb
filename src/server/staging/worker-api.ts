import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { isErrno, isSlipwayError, SlipwayError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { PlatformTokens } from '../../platform/identity/tokens.js';
import type { PackageStore } from '../../platform/staging/package-store.js';
import { publicRepositoryOf } from '../../platform/staging/remote-staging-queue.js';
import type { StagedImage } from '../../platform/staging/stage-build.js';
import { CLAIM_STALE_MS, type StagingJob, type StagingQueue } from '../../platform/staging/staging-queue.js';
import type { LocalStore } from '../../store/local-store.js';

/**
 * The build workers' API (mounted at `/internal/v1`): what `slipway worker` on another
 * process or host needs of the staging queue, over HTTP. Every call carries the worker
 * secret (`Authorization: Bearer <secret>`, shared by all workers of the platform); a
 * claim answers the job and a staging token for its app (the registry lets it push to
 * that app's repository and pull the stacks, nothing else).
 *
 * A worker is trusted with staging, not with the platform: it may record only a
 * digest the registry holds in the build's app repository (which only that app's
 * staging token, or its developers, can push to), and only while it holds the build.
 */

export interface WorkerApiOptions {
  queue: StagingQueue;
  packages: PackageStore;
  tokens: PlatformTokens;
  secret: string;
  /** The registry's store: `succeed` checks the image is there. */
  store: LocalStore;
  /**
   * The job of a build this process did not hand out (another node of the platform, or
   * before a restart). Without it such a build's calls answer 409, and its worker gives
   * it up; the build is taken again once its claim is stale.
   */
  findJob?: (buildGuid: string) => Promise<StagingJob | undefined>;
  /** Told of unexpected errors (answered 500); must not throw. */
  onError?: (err: unknown, where: string) => void;
  /** The staging token's lifetime (default the token service's, 30 minutes). */
  stagingTokenSeconds?: number;
}

/** What a worker sends with every call about a build it holds. */
const WorkerBody = z.object({ workerId: z.string().min(1).max(256) });

const SHA256 = /^sha256:[0-9a-f]{64}$/;

const StagedImageBody = z.object({
  repository: z.string().min(1).max(512),
  tag: z.string().min(1).max(128),
  digest: z.string().regex(SHA256, 'a sha256 digest (sha256:<64 hex>)'),
  processTypes: z.record(z.string().max(256), z.string().max(16_384)),
  buildpacks: z
    .array(
      z.object({
        name: z.string().max(1024),
        buildpackName: z.string().max(1024).nullable(),
        detectOutput: z.string().max(16_384).nullable(),
        version: z.string().max(256).nullable(),
      }),
    )
    .max(64),
  stack: z.string().min(1).max(256),
  stackVersion: z.string().min(1).max(256),
  executionMetadata: z.string().max(65_536),
}) satisfies z.ZodType<StagedImage>;

const SucceedBody = WorkerBody.extend({ image: StagedImageBody });
const FailBody = WorkerBody.extend({ error: z.string().min(1).max(65_536) });
const LogLine = z.object({ stream: z.enum(['OUT', 'ERR']), text: z.string().max(1 << 20) });

/** A claim's job kept while its worker holds it: how calls naming only a build guid find it. */
interface Held {
  job: StagingJob;
  at: number;
}

const SMALL_BODY = 64 * 1024;
const LOG_BODY = 4 << 20;

export function createWorkerApp(options: WorkerApiOptions): Hono {
  const { queue, packages, tokens, store } = options;
  const expected = createHash('sha256').update(options.secret).digest();
  const held = new Map<string, Held>();
  const app = new Hono();

  app.use('*', async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = /^Bearer (.+)$/i.exec(header)?.[1] ?? '';
    // Compared as hashes: equal lengths for timingSafeEqual, and no timing on the secret's length either.
    const ok = given !== '' && timingSafeEqual(createHash('sha256').update(given).digest(), expected);
    if (!ok) return problem(c, 401, 'UNAUTHORIZED', 'the worker secret is missing or wrong');
    await next();
  });
  app.onError((err, c) => {
    if (isSlipwayError(err, 'NOT_FOUND')) return problem(c, 404, 'NOT_FOUND', err.message);
    if (isSlipwayError(err, 'INVALID_ARGUMENT')) return problem(c, 400, 'INVALID_ARGUMENT', err.message);
    if (isSlipwayError(err, 'TOO_LARGE')) return problem(c, 413, 'TOO_LARGE', err.message);
    options.onError?.(err, `${c.req.method} ${c.req.path}`);
    // A 5xx: the worker asks again (a store that was busy), and the details stay in the server's log.
    return problem(c, 500, 'INTERNAL', 'the platform failed to answer this call; see its log');
  });

  const small = bodyLimit({ maxSize: SMALL_BODY, onError: (c) => problem(c, 413, 'TOO_LARGE', 'request too large') });

  /** The job of a build (this process's claim, or findJob's); forgets claims long stale. */
  const jobOf = async (guid: string): Promise<StagingJob | undefined> => {
    const now = Date.now();
    for (const [g, h] of held) if (now - h.at > 2 * CLAIM_STALE_MS) held.delete(g);
    const h = held.get(guid);
    if (h) {
      h.at = now;
      return h.job;
    }
    const found = await options.findJob?.(guid);
    if (found) held.set(guid, { job: found, at: now });
    return found;
  };

  // A worker's first call: is the platform there, and is the secret right?
  app.get('/ping', (c) => c.body(null, 204));

  app.post('/builds/claim', small, async (c) => {
    const { workerId } = await parsed(c, WorkerBody);
    const job = await queue.claim(workerId);
    if (!job) return c.body(null, 204);
    held.set(job.build.guid, { job, at: Date.now() });
    const stagingToken = await tokens.issueStaging(
      {
        appGuid: job.app.guid,
        spaceGuid: job.space.guid,
        orgGuid: job.org.guid,
        repository: publicRepositoryOf(job),
      },
      ...(options.stagingTokenSeconds ? [options.stagingTokenSeconds] : []),
    );
    return c.json({ job, stagingToken });
  });

  app.post('/builds/:guid/heartbeat', small, async (c) => {
    const { workerId } = await parsed(c, WorkerBody);
    const job = await jobOf(c.req.param('guid'));
    if (!job || !(await queue.heartbeat(job, workerId))) return lost(c);
    return c.body(null, 204);
  });

  app.get('/builds/:guid/package', async (c) => {
    const job = await jobOf(c.req.param('guid'));
    if (!job) return lost(c);
    const tar = await packages.tar(job.build.packageGuid);
    return new Response(Readable.toWeb(tar) as ReadableStream<Uint8Array>, {
      status: 200,
      headers: { 'Content-Type': 'application/x-tar' },
    });
  });

  app.post(
    '/builds/:guid/logs',
    bodyLimit({ maxSize: LOG_BODY, onError: (c) => problem(c, 413, 'TOO_LARGE', `logs over ${LOG_BODY} bytes`) }),
    async (c) => {
      const job = await jobOf(c.req.param('guid'));
      if (!job) return lost(c);
      const text = await c.req.text();
      // ndjson (one line object per line) or one JSON array of them.
      const raw: unknown[] = text.trimStart().startsWith('[')
        ? (jsonOf(text) as unknown[])
        : text
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map(jsonOf);
      const lines = z.array(LogLine).safeParse(raw);
      if (!lines.success) return problem(c, 400, 'INVALID_ARGUMENT', `log lines: ${z.prettifyError(lines.error)}`);
      for (const l of lines.data) queue.log(job, l.stream, l.text);
      return c.body(null, 204);
    },
  );

  app.post('/builds/:guid/succeed', small, async (c) => {
    const { workerId, image } = await parsed(c, SucceedBody);
    const job = await jobOf(c.req.param('guid'));
    if (!job) return lost(c);
    const repository = `apps/${job.app.guid}`;
    if (image.repository !== repository || image.tag !== job.build.guid)
      return problem(
        c,
        422,
        'INVALID_ARGUMENT',
        `the image of build ${job.build.guid} is ${repository}:${job.build.guid}, not ${image.repository}:${image.tag}`,
      );
    // Only what the registry holds for this app: a worker cannot make a droplet of bits it did not push.
    if (!(await store.meta.getManifest(repository, image.digest as Digest)))
      return problem(
        c,
        422,
        'MANIFEST_UNKNOWN',
        `${image.digest} is not in the registry under ${publicRepositoryOf(job)}: push the image before recording it`,
      );
    if (!(await queue.heartbeat(job, workerId))) return lost(c);
    await queue.succeed(job, workerId, image);
    held.delete(job.build.guid);
    return c.body(null, 204);
  });

  app.post('/builds/:guid/fail', small, async (c) => {
    const { workerId, error } = await parsed(c, FailBody);
    const job = await jobOf(c.req.param('guid'));
    if (!job || !(await queue.heartbeat(job, workerId))) return lost(c);
    await queue.fail(job, workerId, error);
    held.delete(job.build.guid);
    return c.body(null, 204);
  });

  return app;
}

/** 409: the build is not (or no longer) the caller's: taken over, finished, or unknown here. */
function lost(c: Context): Response {
  return problem(c, 409, 'CONFLICT', `build ${c.req.param('guid')} is not held by this worker`);
}

function problem(c: Context, status: 400 | 401 | 404 | 409 | 413 | 422 | 500, code: string, message: string): Response {
  return c.json({ error: { code, message } }, status);
}

async function parsed<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const body = schema.safeParse(jsonOf(await c.req.text()));
  if (!body.success) throw new SlipwayError('INVALID_ARGUMENT', z.prettifyError(body.error));
  return body.data;
}

function jsonOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `the body is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The platform's worker secret (`$SLIPWAY_HOME/worker-secret`, 32 random bytes as hex,
 * mode 0600), made on first use. `slipway worker` on another host is given a copy.
 */
/** A new worker secret: 32 random bytes as hex. */
export function newWorkerSecret(): string {
  return randomBytes(32).toString('hex');
}

/**
 * The secret of nodes that share a database (made once, kept there), also written to
 * `$SLIPWAY_HOME/worker-secret` so an operator copies it to workers from any node.
 */
export function shareWorkerSecret(home: string, secret: string): string {
  if (!/^[0-9a-f]{64}$/.test(secret))
    throw new SlipwayError('INVALID_DOCUMENT', "the database's worker secret is not 64 hex digits");
  const file = join(home, 'worker-secret');
  if (!existsSync(file) || readFileSync(file, 'utf8').trim() !== secret) {
    const tmp = `${file}.${randomBytes(6).toString('hex')}`;
    writeFileSync(tmp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
  }
  return secret;
}

export function loadOrCreateWorkerSecret(home: string): string {
  const file = join(home, 'worker-secret');
  if (!existsSync(file)) {
    const tmp = `${file}.${randomBytes(6).toString('hex')}`;
    writeFileSync(tmp, `${newWorkerSecret()}\n`, { mode: 0o600, flag: 'wx' });
    try {
      // link() never replaces: of two processes starting at once, the first one's secret stays, whole.
      linkSync(tmp, file);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  const secret = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(secret))
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${file} is not a worker secret (64 hex digits): remove it to have a new one made`,
      { detail: { file } },
    );
  return secret;
}
