import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, type Digest, type DigestAlgorithm } from '../../../oci/digest.js';
import { MediaType } from '../../../oci/media-types.js';
import type { Descriptor } from '../../../oci/types.js';
import type { LocalStore } from '../../../store/local-store.js';
import { openTestStore } from '../../../store/testdata/test-backends.js';
import { allowAll } from '../../auth/types.js';
import { createRegistryApp, type RegistryApp, type RegistryOptions } from '../app.js';

/** Test fixtures for the registry routes: a store in a temp home, an app on it, a tiny client. */

export interface Harness {
  home: string;
  store: LocalStore;
  app: RegistryApp;
  client: TestClient;
  /** Closes the app and store and removes the home. */
  dispose(): Promise<void>;
}

/** A fresh store in a temporary SLIPWAY_HOME, and a registry app on it. */
export async function harness(options: Partial<Omit<RegistryOptions, 'store'>> = {}): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), 'slipway-registry-'));
  const store = await openTestStore(home);
  const app = createRegistryApp({ auth: allowAll, ...options, store });
  return {
    home,
    store,
    app,
    client: new TestClient(app),
    async dispose() {
      await app.close();
      await store.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

export interface RequestOptions {
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
}

/** The first error code of an error response. */
export async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: { code: string }[] };
  return body.errors?.[0]?.code;
}

export class TestClient {
  readonly app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

  constructor(app: TestClient['app']) {
    this.app = app;
  }

  async req(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const init: RequestInit & { duplex?: 'half' } = { method, headers: options.headers ?? {} };
    if (options.body !== undefined) {
      init.body = options.body as NonNullable<RequestInit['body']>;
      if (options.body instanceof ReadableStream) init.duplex = 'half';
    }
    return this.app.request(path, init);
  }

  /** A monolithic POST ?digest= push; returns the digest. */
  async pushBlob(repo: string, bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Promise<Digest> {
    const digest = digestOf(bytes, algorithm);
    const res = await this.req('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      body: bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    if (res.status !== 201) throw new Error(`push blob to ${repo}: ${res.status} ${await res.text()}`);
    return digest;
  }

  /** POST to open a session; returns its Location. */
  async startUpload(repo: string, query = ''): Promise<string> {
    const res = await this.req('POST', `/v2/${repo}/blobs/uploads/${query}`);
    if (res.status !== 202) throw new Error(`start upload in ${repo}: ${res.status} ${await res.text()}`);
    return res.headers.get('location')!;
  }

  async putManifest(
    repo: string,
    reference: string,
    bytes: Uint8Array | string,
    mediaType: string = MediaType.OciManifest,
  ): Promise<Response> {
    return this.req('PUT', `/v2/${repo}/manifests/${reference}`, {
      body: bytes,
      headers: { 'Content-Type': mediaType },
    });
  }

  /** Pushes config and layers, then the manifest under `tag`; returns what was pushed. */
  async pushImage(
    repo: string,
    tag: string,
    layers: Uint8Array[],
    extra: Record<string, unknown> = {},
  ): Promise<PushedImage> {
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
        config: { Labels: { tag } },
      }),
    );
    const configDesc: Descriptor = {
      mediaType: MediaType.OciConfig,
      digest: await this.pushBlob(repo, config),
      size: config.length,
    };
    const layerDescs: Descriptor[] = [];
    for (const layer of layers)
      layerDescs.push({
        mediaType: MediaType.OciLayerGzip,
        digest: await this.pushBlob(repo, layer),
        size: layer.length,
      });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config: configDesc,
        layers: layerDescs,
        ...extra,
      }),
    );
    const res = await this.putManifest(repo, tag, manifest);
    if (res.status !== 201) throw new Error(`push manifest ${repo}:${tag}: ${res.status} ${await res.text()}`);
    return { manifest, digest: digestOf(manifest), config: configDesc, layers: layerDescs };
  }
}

export interface PushedImage {
  manifest: Buffer;
  digest: Digest;
  config: Descriptor;
  layers: Descriptor[];
}

export function randomLayer(size = 4096): Buffer {
  return randomBytes(size);
}
