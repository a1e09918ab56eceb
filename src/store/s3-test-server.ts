import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SlipwayError } from '../errors.js';
import { cephAvailable, startCephRgw } from './ceph-test-cluster.js';
import { freePort } from './free-port.js';

/**
 * Test support: an S3-compatible server for the tests and benchmarks, with a bucket of
 * the caller's own. In order of preference:
 *
 * - the one named by SLIPWAY_TEST_S3 (`ENDPOINT ACCESS_KEY SECRET_KEY`): scripts/test.sh
 *   starts one Ceph RGW for the whole run, as the registry suites on PostgreSQL + S3
 *   open one store per test in many processes;
 * - a single-node Ceph cluster with radosgw, from Debian's packages (ceph-test-cluster.ts):
 *   a real S3 implementation, the first choice of the issue;
 * - `s3rver` (npm) when Ceph is not installed. What s3rver does not check, so the code
 *   must keep to real S3 on its own: the 5 MiB minimum of all but the last part of a
 *   multipart upload, AbortMultipartUpload and ListMultipartUploads (not implemented),
 *   request signatures only loosely, and no throttling.
 *
 * @example
 * const s3 = await startS3();
 * const url = s3.url('registry');  // s3://BUCKET/registry?endpoint=...&path-style=true
 * await s3.stop();
 */
export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** The environment the SDK needs (s3rver's fixed credentials). */
  env: Record<string, string>;
  /** A blob store URL under `prefix` (a different prefix per test keeps them apart). */
  url(prefix?: string, endpoint?: string): string;
  stop(): Promise<void>;
  /** Stops it synchronously (from a process 'exit' handler). */
  stopNow(): void;
}

export const S3_TEST_BUCKET = 'slipway-test';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

let buckets = 0;

/** `detached`: the server does not keep this process alive (stop it with stopNow at exit). */
export async function startS3(options: { detached?: boolean } = {}): Promise<S3TestServer> {
  const shared = process.env['SLIPWAY_TEST_S3']?.trim().split(/\s+/);
  if (shared?.length === 3) {
    const [endpoint, accessKey, secretKey] = shared as [string, string, string];
    return onServer(endpoint, accessKey, secretKey, () => undefined);
  }
  if (cephAvailable()) {
    const rgw = await startCephRgw();
    return onServer(rgw.endpoint, rgw.accessKey, rgw.secretKey, rgw.stop);
  }
  return startS3rver(options);
}

/** A fresh bucket on a running server (`stop` stops that server when it is this caller's). */
async function onServer(
  endpoint: string,
  accessKey: string,
  secretKey: string,
  stop: () => void,
): Promise<S3TestServer> {
  const env = { AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey, AWS_REGION: 'us-east-1' };
  Object.assign(process.env, env);
  const bucket = `slipway-test-${process.pid}-${++buckets}`;
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    stop();
    throw err;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    bucket,
    env,
    url: (prefix = '', at = endpoint) => `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(at)}&path-style=true`,
    stop: async () => stop(),
    stopNow: stop,
  };
}

async function startS3rver(options: { detached?: boolean }): Promise<S3TestServer> {
  const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
  const bin = join(root, 'node_modules', 's3rver', 'bin', 's3rver.js');
  const dir = await mkdtemp(join(tmpdir(), 'slipway-s3-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', S3_TEST_BUCKET],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let gone = false;
  void exited.then(() => (gone = true));
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (gone) throw new SlipwayError('TOOL_FAILED', `s3rver exited before serving:\n${stderr}`);
    const ok = await fetch(`${endpoint}/`).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (i > 200) {
      child.kill('SIGKILL');
      throw new SlipwayError('TOOL_FAILED', `s3rver did not answer on ${endpoint} within 10 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (options.detached) {
    child.unref();
    (child.stderr as unknown as { unref(): void }).unref();
  }
  // The SDK in this process signs with s3rver's fixed credentials.
  Object.assign(process.env, CREDENTIALS);
  return {
    endpoint,
    bucket: S3_TEST_BUCKET,
    env: { ...CREDENTIALS },
    url: (prefix = '', at = endpoint) =>
      `s3://${S3_TEST_BUCKET}/${prefix}?endpoint=${encodeURIComponent(at)}&path-style=true`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
    stopNow() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
