import { startPostgres, type PostgresCluster } from '../src/store/postgres-test-cluster.js';
import { startS3, type S3TestServer } from '../src/store/s3-test-server.js';

/**
 * TEST SUPPORT: the shared back-ends of a scale-out deployment, real ones started for
 * the test: PostgreSQL 15 (a throwaway cluster, one database) and an S3-compatible
 * server (s3rver, one bucket). `env` is what a node or a CLI is given
 * (SLIPWAY_DATABASE, SLIPWAY_BLOBS and the S3 credentials); `storage` the same for
 * LocalStore.open in the test's own process.
 */
export interface ScaleOutBackends {
  env: NodeJS.ProcessEnv;
  storage: { database: string; blobs: string };
  pg: PostgresCluster;
  s3: S3TestServer;
  stop(): Promise<void>;
}

export async function startScaleOutBackends(prefix = 'scale-out'): Promise<ScaleOutBackends> {
  const [pg, s3] = await Promise.all([startPostgres(), startS3()]);
  const database = await pg.createDatabase();
  const blobs = s3.url(prefix);
  return {
    env: { ...s3.env, SLIPWAY_DATABASE: database, SLIPWAY_BLOBS: blobs },
    storage: { database, blobs },
    pg,
    s3,
    stop: async () => {
      await s3.stop();
      await pg.stop();
    },
  };
}
