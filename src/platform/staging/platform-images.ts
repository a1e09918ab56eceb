import { connect, rootCertificates } from 'node:tls';
import { SlipwayError, isSlipwayError } from '../../errors.js';
import { artifactFromBlobs } from '../../image/blob-image.js';
import type { Artifact } from '../../image/types.js';
import { type Progress, silentProgress } from '../../progress.js';
import { RegistryClient } from '../../registry/client/client.js';
import { RemoteBlobSource } from '../../registry/client/remote-source.js';
import { DEFAULT_STACK_NAME } from '../../stack/request.js';
import { LATEST, repositoryOf } from '../../stack/stack-catalog.js';
import type { LocalStore } from '../../store/local-store.js';
import type { ContentDestination } from '../../transport/destination.js';
import { localDestination, readLocal } from '../../transport/local.js';
import { RemoteDestination } from '../../transport/remote-destination.js';
import { writeArtifact, type WriteReport } from '../../transport/write-artifact.js';
import { publicRepositoryOf } from './remote-staging-queue.js';
import type { StagedImage } from './stage-build.js';
import type { StagingJob } from './staging-queue.js';

/**
 * What a build worker on another host exchanges with the platform's registry, with
 * the build's staging token (which may pull the stacks and push to its app only):
 *
 * - before staging, the build's stack: `stacks/NAME/build` and `stacks/NAME/run` at
 *   the platform's newest version, pulled into the worker's store as the stack catalog
 *   keeps stacks (NAME/build and NAME/run, tagged VERSION and latest; what the stack
 *   knows of itself is in the images' labels, which come along). Pulled once, and
 *   again only when the platform's version changes;
 * - after staging, the image: `apps/<app guid>:<build guid>` of the worker's store
 *   pushed to ORG/SPACE/APP:<build guid>, the blobs the registry has skipped (HEAD)
 *   and the stack's run image layers mounted from `stacks/NAME/run`, so only what the
 *   build made travels. The digest is the one staging made, or the push fails.
 */

export interface PlatformImagesOptions {
  /** The worker's own store (where it stages). */
  store: LocalStore;
  /** The platform's URL: its registry is at the same origin. */
  server: string;
  /** PEM CA certificates trusted besides the system's. */
  ca?: string;
  /** Trust whatever certificate the server presents (a self-signed one: it is pinned for the registry client). */
  insecure?: boolean;
  progress?: Progress;
}

/** Any user name goes with a staging token: the token is the password. */
const STAGING_USER = 'staging';

export class PlatformImages {
  readonly #o: PlatformImagesOptions;
  readonly #origin: string;
  readonly #pulls = new Map<string, Promise<void>>();
  #ca: Promise<string[] | undefined> | undefined;

  constructor(options: PlatformImagesOptions) {
    this.#o = options;
    this.#origin = new URL(options.server).origin;
  }

  /** The build's stack at the platform's newest version, in the worker's store. */
  async ensureStack(job: StagingJob, stagingToken: string): Promise<void> {
    const name = job.build.lifecycle.data.stack ?? DEFAULT_STACK_NAME;
    // One pull of a stack at a time, set before any await: a second build of the stack waits, then finds it there.
    const pull = (this.#pulls.get(name) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => this.#syncStack(name, await this.#client(stagingToken)));
    this.#pulls.set(name, pull);
    try {
      await pull;
    } finally {
      if (this.#pulls.get(name) === pull) this.#pulls.delete(name);
    }
  }

  /** Pushes the staged image to the app's repository; the same image, digest unchanged. */
  async publish(job: StagingJob, image: StagedImage, stagingToken: string): Promise<StagedImage> {
    const { store } = this.#o;
    const client = await this.#client(stagingToken);
    const { artifact } = await readLocal(store, image.repository, image.tag);
    const destination = new RemoteDestination(
      client,
      publicRepositoryOf(job),
      job.build.guid,
      `stacks/${repositoryOf(image.stack, 'run')}`,
    );
    const report = await write(destination, artifact, this.#o.progress);
    if (report.descriptor.digest !== image.digest)
      throw new SlipwayError(
        'DIGEST_MISMATCH',
        `the registry holds ${report.descriptor.digest} for ${publicRepositoryOf(job)}:${job.build.guid}, not the staged ${image.digest}`,
        { detail: { expected: image.digest, actual: report.descriptor.digest } },
      );
    return image;
  }

  async #syncStack(name: string, client: RegistryClient): Promise<void> {
    const { store } = this.#o;
    const remote = (role: 'build' | 'run') => `stacks/${repositoryOf(name, role)}`;
    const [build, run] = await Promise.all([
      tagsOf(client, remote('build'), name),
      tagsOf(client, remote('run'), name),
    ]);
    const runTags = new Set(run);
    const version = build
      .filter((t) => /^\d+$/.test(t) && runTags.has(t))
      .sort((a, b) => Number(a) - Number(b))
      .pop();
    if (version === undefined) throw noStack(name, this.#origin);
    const sources = {
      build: new RemoteBlobSource(client, remote('build')),
      run: new RemoteBlobSource(client, remote('run')),
    };
    const descriptors = { build: await sources.build.resolve(version), run: await sources.run.resolve(version) };
    const wanted = { build: descriptors.build.digest, run: descriptors.run.digest };
    const have = async (role: 'build' | 'run') =>
      (await store.meta.resolveTag(repositoryOf(name, role), version)) === wanted[role] &&
      (await store.meta.resolveTag(repositoryOf(name, role), LATEST)) === wanted[role];
    if ((await have('build')) && (await have('run'))) return;
    this.#o.progress?.log(`Pulling stack ${name} version ${version} from ${this.#origin}`);
    // As the catalog publishes a version: the build image first, then the run image, then latest on both.
    const artifacts: Record<'build' | 'run', Artifact> = {
      build: await artifactFromBlobs(sources.build, descriptors.build),
      run: await artifactFromBlobs(sources.run, descriptors.run),
    };
    for (const tag of [version, LATEST])
      for (const role of ['build', 'run'] as const) {
        const written = await write(
          await localDestination(store, repositoryOf(name, role), tag),
          artifacts[role],
          this.#o.progress,
        );
        if (written.descriptor.digest !== wanted[role])
          throw new SlipwayError('DIGEST_MISMATCH', `stack ${name}/${role}:${version} changed while it was pulled`);
      }
    // Versions above the platform's are of a stack it has since made anew: they would pass for the newest here.
    for (const role of ['build', 'run'] as const) {
      const repository = repositoryOf(name, role);
      for (const t of await store.meta.listTags(repository))
        if (/^\d+$/.test(t) && Number(t) > Number(version)) await store.meta.deleteTag(repository, t);
    }
  }

  async #client(stagingToken: string): Promise<RegistryClient> {
    const ca = await (this.#ca ??= this.#trusted());
    return new RegistryClient(this.#origin, {
      credentials: { username: STAGING_USER, password: stagingToken },
      ...(ca ? { ca } : {}),
    });
  }

  /** The CAs the registry client trusts: the system's and --ca-file's, or under --insecure the server's own chain. */
  async #trusted(): Promise<string[] | undefined> {
    if (!this.#origin.startsWith('https:')) return undefined;
    if (this.#o.insecure) return presentedChain(new URL(this.#origin));
    return this.#o.ca ? [...rootCertificates, this.#o.ca] : undefined;
  }
}

async function write(dest: ContentDestination, artifact: Artifact, progress?: Progress): Promise<WriteReport> {
  let ok = false;
  try {
    const report = await writeArtifact(dest, artifact, { progress: progress ?? silentProgress });
    ok = true;
    return report;
  } finally {
    await dest.close(ok);
  }
}

async function tagsOf(client: RegistryClient, repository: string, name: string): Promise<string[]> {
  try {
    return await client.listTags(repository);
  } catch (err) {
    if (isSlipwayError(err, 'NAME_UNKNOWN') || isSlipwayError(err, 'NOT_FOUND')) throw noStack(name, client.baseUrl);
    throw err;
  }
}

function noStack(name: string, origin: string): SlipwayError {
  return new SlipwayError(
    'NOT_FOUND',
    `the platform at ${origin} has no stack "${name}" (stacks/${name}/build and stacks/${name}/run): make it there with slipway stack create ${name}`,
    { detail: { stack: name } },
  );
}

/**
 * The certificates a TLS server presents, as PEM: trusted as they are (by --insecure)
 * for the registry client, which has no switch to skip verification. The host name
 * is still checked against them.
 */
function presentedChain(url: URL): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 443),
      servername: /^[\d.]+$|:/.test(url.hostname) ? '' : url.hostname,
      rejectUnauthorized: false,
    });
    socket.setTimeout(30_000, () => socket.destroy(new Error('timed out')));
    socket.once('error', (err) =>
      reject(new SlipwayError('IO_ERROR', `cannot reach ${url.origin}: ${err.message}`, { cause: err })),
    );
    socket.once('secureConnect', () => {
      const pems: string[] = [];
      const seen = new Set<string>();
      let cert = socket.getPeerCertificate(true);
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        const b64 = cert.raw.toString('base64').replace(/.{64}/g, '$&\n');
        pems.push(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
        cert = cert.issuerCertificate;
      }
      socket.end();
      resolve(pems);
    });
  });
}
