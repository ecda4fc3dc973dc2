import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SluiceConfig } from '../../infra/config';
import { startMinio } from '../../infra/setup/minio';

export type S3ArtifactsConfig = Extract<SluiceConfig['artifacts'], { kind: 's3' }>;

export interface TestMinio {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** Artifact config for a bucket of its own (created by openArtifactStore), so test files never share objects. */
  artifactsConfig(opts?: { bucket?: string; prefix?: string }): S3ArtifactsConfig;
  stop(): Promise<void>;
}

export const uniqueBucket = (label = 'test') => `sluice-${label}-${randomBytes(4).toString('hex')}`;

/**
 * A MinIO server for tests: the one the harness started (SLUICE_TEST_S3_*), or one of our own on a
 * free port in a temp dir, stopped and removed by `stop()`.
 */
export async function useMinio(): Promise<TestMinio> {
  const { SLUICE_TEST_S3_ENDPOINT: endpoint, SLUICE_TEST_S3_ACCESS_KEY: accessKey, SLUICE_TEST_S3_SECRET_KEY: secretKey } = process.env;
  const make = (endpoint: string, accessKey: string, secretKey: string, stop: () => Promise<void>): TestMinio => ({
    endpoint,
    accessKey,
    secretKey,
    region: 'us-east-1',
    artifactsConfig: (opts = {}) => ({
      kind: 's3',
      bucket: opts.bucket ?? uniqueBucket(),
      prefix: opts.prefix ?? '',
      endpoint,
      region: 'us-east-1',
      accessKey,
      secretKey,
    }),
    stop,
  });
  if (endpoint && accessKey && secretKey) return make(endpoint, accessKey, secretKey, async () => undefined);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-minio-'));
  const server = await startMinio({ dataDir: path.join(dir, 'data'), logFile: path.join(dir, 'minio.log') });
  return make(server.endpoint, server.accessKey, server.secretKey, async () => {
    await server.service.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
}
