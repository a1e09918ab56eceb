import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { defaultMtime } from '../../layer/tree-walk.js';
import type { Progress } from '../../progress.js';
import type { SandboxLimits } from '../../sandbox/limits.js';
import type { BuildNetwork } from '../../sandbox/network.js';
import { stageClassic } from '../../stage/classic/stage-classic.js';
import { buildApp } from '../../stage/cnb/build-app.js';
import { BUILTIN_BUILDPACKS } from '../../stage/cnb/paths.js';
import { StageError } from '../../stage/cnb/stage-error.js';
import type { LocalStore } from '../../store/local-store.js';
import type { AppLifecycle } from '../model.js';
import type { DropletBuildpack } from '../workload.js';

/**
 * One build of the platform as Slipway's staging: the app's source (extracted from its
 * package) staged in the build sandbox into the image `apps/<app guid>:<build guid>`
 * of the platform's store, with the app's own build cache and build volume.
 *
 * CF's lifecycles map onto the two stagers:
 * - `cnb`, and `buildpack` with no buildpack named or only Slipway's buildpacks
 *   (`slipway/nodejs`, or CF's name for it, `nodejs_buildpack`): Cloud Native
 *   Buildpacks, the built-in builder's order when none is named;
 * - `buildpack` naming a CF or Heroku buildpack by URL (git, zip, tgz): CF's classic
 *   staging (src/stage/classic), as Diego's buildpack lifecycle would run it.
 */

export interface BuildInput {
  appGuid: string;
  /** The image's tag (the build's guid: every droplet is its own image). */
  tag: string;
  lifecycle: AppLifecycle;
  /** The app's environment variables (CF passes them to staging). */
  env: Record<string, string>;
  /** CF's staging env besides (VCAP_APPLICATION, CF_STACK, MEMORY_LIMIT). */
  platformEnv: Record<string, string>;
  /** The extracted package. */
  dir: string;
  memoryMb: number;
  diskMb: number;
  timeoutMs: number;
  network?: BuildNetwork;
  output: (text: string) => void;
  progress?: Progress;
}

/** What a droplet records of a staging. */
export interface StagedImage {
  repository: string;
  tag: string;
  digest: string;
  processTypes: Record<string, string>;
  buildpacks: DropletBuildpack[];
  stack: string;
  stackVersion: string;
  /** CF's execution_metadata: here the lifecycle that staged it and its group. */
  executionMetadata: string;
}

/** CF's names for Slipway's buildpacks (`nodejs_buildpack` is `slipway/nodejs`). */
export function builtinBuildpack(name: string): string | undefined {
  const id = /^slipway\/[a-z0-9-]+$/.test(name)
    ? name
    : /^([a-z0-9-]+)_buildpack$/.test(name)
      ? `slipway/${name.replace(/_buildpack$/, '')}`
      : undefined;
  return id && existsSync(join(BUILTIN_BUILDPACKS, id.slice('slipway/'.length), 'buildpack.toml')) ? id : undefined;
}

const isUrl = (name: string) => /^(https?|file|git):\/\//.test(name) || /^git@/.test(name);

/** The stager a lifecycle and its buildpacks choose; INVALID_ARGUMENT names a buildpack that is neither. */
export function chooseStager(lifecycle: AppLifecycle): { kind: 'cnb' | 'classic'; buildpacks: string[] } {
  const names = lifecycle.data.buildpacks;
  if (lifecycle.type === 'docker')
    throw new SlipwayError('UNSUPPORTED', 'docker apps are not staged: they run the image they name');
  const resolved = names.map((n) => builtinBuildpack(n) ?? (isUrl(n) || n.startsWith('docker://') ? n : undefined));
  const unknown = names.find((_, i) => resolved[i] === undefined);
  if (unknown !== undefined)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `buildpack "${unknown}" is not one of the platform's (slipway/apt, slipway/make, slipway/nodejs, slipway/procfile, or CF's names: nodejs_buildpack ...) nor a URL`,
      { detail: { buildpack: unknown } },
    );
  const all = resolved as string[];
  if (lifecycle.type === 'buildpack' && all.some((n) => isUrl(n) && !builtinBuildpack(n)))
    return { kind: 'classic', buildpacks: all };
  return { kind: 'cnb', buildpacks: all };
}

export async function stageBuild(store: LocalStore, input: BuildInput): Promise<StagedImage> {
  const repository = `apps/${input.appGuid}`;
  const { kind, buildpacks } = chooseStager(input.lifecycle);
  const stack = input.lifecycle.data.stack ?? undefined;
  const limits: Partial<SandboxLimits> = {
    memoryBytes: input.memoryMb * 1024 * 1024,
    diskBytes: input.diskMb * 1024 * 1024,
    timeoutMs: input.timeoutMs,
  };
  const env = [...Object.entries(input.platformEnv), ...Object.entries(input.env)].map(([k, v]) => `${k}=${v}`);
  if (kind === 'classic') {
    const report = await stageClassic(store, {
      path: input.dir,
      image: `${repository}:${input.tag}`,
      ...(stack ? { stack } : {}),
      buildpacks,
      env,
      memoryMb: input.memoryMb,
      created: defaultMtime(),
      output: input.output,
      limits,
      ...(input.network ? { network: input.network } : {}),
      ...(input.progress ? { progress: input.progress } : {}),
    });
    return {
      repository,
      tag: input.tag,
      digest: report.digest,
      processTypes: report.processTypes,
      buildpacks: report.buildpacks.map((b) => ({
        name: b.key,
        buildpackName: b.name,
        detectOutput: b.key === report.detectedBuildpack ? (report.detectOutput ?? null) : null,
        version: b.version ?? null,
      })),
      stack: report.stack.name,
      stackVersion: report.stack.version,
      executionMetadata: JSON.stringify({ lifecycle: 'buildpack', detected: report.detectedBuildpack }),
    };
  }
  const report = await buildApp(store, {
    image: `${repository}:${input.tag}`,
    path: input.dir,
    ...(stack ? { stack } : {}),
    buildpacks,
    env,
    output: input.output,
    limits,
    ...(input.network ? { network: input.network } : {}),
    ...(input.progress ? { progress: input.progress } : {}),
  });
  return {
    repository,
    tag: input.tag,
    digest: report.digest,
    processTypes: Object.fromEntries(report.processes.map((p) => [p.type, [...p.command, ...p.args].join(' ')])),
    buildpacks: report.group.map((b) => ({ name: b.id, buildpackName: b.id, detectOutput: null, version: b.version })),
    stack: report.stack.name,
    stackVersion: report.stack.version,
    executionMetadata: JSON.stringify({ lifecycle: 'cnb', group: report.group }),
  };
}

/**
 * CF's build `error` for a failed staging: "<Name> - <text>" with CC's names
 * (NoAppDetectedError, BuildpackCompileFailed, StagingTimeExpired, InsufficientResources,
 * StagingError).
 */
export function stagingErrorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof StageError) {
    if (err.phase === 'detect')
      return `NoAppDetectedError - An app was not successfully detected by any available buildpack: ${message}`;
    if (err.phase === 'build')
      return `BuildpackCompileFailed - App staging failed in the buildpack compile phase: ${message}`;
    return `StagingError - Staging error: ${message}`;
  }
  if (err instanceof SlipwayError && err.code === 'LIMIT_EXCEEDED') {
    const limit = (err.detail as { limit?: string } | undefined)?.limit;
    if (limit === 'timeout') return `StagingTimeExpired - Staging time expired: ${message}`;
    return `InsufficientResources - Staging ran out of ${limit ?? 'resources'}: ${message}`;
  }
  if (err instanceof SlipwayError && /detect/i.test(message))
    return `NoAppDetectedError - An app was not successfully detected by any available buildpack: ${message}`;
  if (err instanceof SlipwayError && err.code === 'TOOL_FAILED')
    return `BuildpackCompileFailed - App staging failed in the buildpack compile phase: ${message}`;
  return `StagingError - Staging error: ${message}`;
}
