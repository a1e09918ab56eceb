import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComputedImage } from '../image/computed-image.js';
import type { Image, Layer } from '../image/types.js';
import type { TarEntry } from '../layer/entry.js';
import { walkTree, type OwnerPolicy } from '../layer/tree-walk.js';
import type { Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { HistoryEntry, ImageConfig } from '../oci/types.js';
import type { LayerOutput } from '../stage/layer-output.js';
import { dropletTrees } from './droplet-dir.js';
import { LAUNCHER_SCRIPT } from './launcher.js';
import {
  APP_DIR,
  BUILD_METADATA_LABEL,
  CF_LAUNCHER,
  CF_PROCESS_DIR,
  DROPLET_LABEL,
  DROPLET_ROOT,
  LIFECYCLE_METADATA_LABEL,
  type DropletBuildpack,
  type DropletLabel,
} from './layout.js';
import { sortedTypes } from './process-types.js';
import { readStagingInfo } from './staging-info.js';

export interface DropletImageInput {
  /**
   * A droplet's contents (app/, deps/, profile.d/, staging_info.yml, ...), as CF's builder
   * leaves `contents`. The directory itself is the host's; everything below it is
   * untrusted (a tarball's, a build container's) and is read following no link.
   */
  dir: string;
  /**
   * Instead of the droplet's layers, one layer of these entries (full-filesystem
   * staging: the overlay delta, the app at /home/vcap/app inside it); staging_info.yml
   * is then read from `dir`.
   */
  delta?: () => AsyncIterable<TarEntry>;
  runImage: Image;
  stack: { name: string; run: Digest };
  /** Owner of the droplet's files (the stack user, as vcap owns them in CF). */
  user: { uid: number; gid: number };
  /** Process types beyond staging_info.yml's start command (which is `web` unless these name one). */
  processTypes?: Record<string, string>;
  buildpacks?: DropletBuildpack[];
  detectOutput?: string;
  /** Seconds since the epoch for `created` and every file. */
  created: number;
  /** Extra labels (full-filesystem staging marks io.buildpacks.rebasable=false). */
  labels?: Record<string, string>;
}

export interface DropletImage {
  image: Image;
  layers: { name: string; diffId: Digest; digest: Digest; size: number; reused: boolean }[];
  processTypes: Record<string, string>;
  startCommand: string;
}

/**
 * A droplet as image layers over the stack's run image: the droplet root (profile.d,
 * staging_info.yml, tmp, logs), each deps/IDX in a layer of its own (a buildpack's
 * unchanged dependencies are then one blob shared by every build and app), the app,
 * the launcher (identical in every image) and the process types. Every file gets the
 * stack user as owner and `created` as mtime, so the same droplet always gives the
 * same digest.
 */
export async function dropletImage(output: LayerOutput, input: DropletImageInput): Promise<DropletImage> {
  const { dir, user, created } = input;
  const owner: OwnerPolicy = { kind: 'map', uid: user.uid, gid: user.gid };
  const root: OwnerPolicy = { kind: 'map', uid: 0, gid: 0 };
  const prefix = DROPLET_ROOT.slice(1);
  const layers: Layer[] = [];
  const history: HistoryEntry[] = [];
  const reported: DropletImage['layers'] = [];
  const dropletLayers: Digest[] = [];
  const time = new Date(created * 1000).toISOString().replace('.000Z', 'Z');
  const add = async (
    name: string,
    entries: () => AsyncIterable<TarEntry>,
    createdBy: string,
    partOfDroplet: boolean,
  ) => {
    const r = await output.write(entries);
    layers.push(r.layer);
    history.push({ created: time, created_by: createdBy });
    reported.push({ name, diffId: r.known.diffId, digest: r.known.digest, size: r.known.size, reused: r.reused });
    if (partOfDroplet) dropletLayers.push(r.known.diffId);
  };
  // /home and /home/vcap come from the root layer only, /home as root's (the run image's /home stays root's).
  const ancestors = new Set(['home', prefix, `${prefix}/deps`]);
  const withoutAncestors = (e: TarEntry) => (ancestors.has(e.path) ? null : e);

  if (input.delta) {
    await add('filesystem', input.delta, 'Full-filesystem staging (root, overlay delta)', true);
  } else {
    await addDropletLayers();
  }
  async function addDropletLayers() {
    // Checked before any layer is written; each walk checks again that no component below `dir` is a link.
    const trees = dropletTrees(dir);
    await add(
      'droplet',
      () =>
        walkTree(dir, {
          prefix,
          includeRoot: true,
          owner,
          mtime: created,
          transform: (e) => {
            if (e.path === 'home') return { ...e, uid: 0, gid: 0, mode: 0o755 };
            const rel = e.path.slice(prefix.length + 1);
            if (rel.startsWith('app/') || rel === 'app' || /^deps\/[^/]+(\/|$)/.test(rel)) return null;
            return e;
          },
        }),
      'Droplet: profile.d, staging_info.yml, tmp, logs',
      true,
    );
    for (const idx of trees.deps) {
      await add(
        `deps/${idx}`,
        () =>
          walkTree(join(dir, 'deps', idx), {
            beneath: dir,
            prefix: `${prefix}/deps/${idx}`,
            includeRoot: true,
            owner,
            mtime: created,
            transform: withoutAncestors,
          }),
        `Droplet: deps/${idx}`,
        true,
      );
    }
    if (trees.app) {
      await add(
        'app',
        () =>
          walkTree(join(dir, 'app'), {
            beneath: dir,
            prefix: `${prefix}/app`,
            includeRoot: true,
            owner,
            mtime: created,
            transform: withoutAncestors,
          }),
        'Droplet: app',
        true,
      );
    }
  }

  const info = readStagingInfo(join(dir, 'staging_info.yml'));
  const startCommand = info.start_command ?? '';
  const processTypes = sortedTypes({ ...(startCommand ? { web: startCommand } : {}), ...(input.processTypes ?? {}) });
  const staging = mkdtempSync(join(tmpdir(), 'slipway-droplet-'));
  try {
    const launcherDir = join(staging, 'launcher');
    mkdirSync(join(launcherDir, CF_LAUNCHER.slice(1), '..'), { recursive: true });
    writeFileSync(join(launcherDir, CF_LAUNCHER.slice(1)), LAUNCHER_SCRIPT);
    chmodSync(join(launcherDir, CF_LAUNCHER.slice(1)), 0o755);
    for (const d of ['cf', 'cf/lifecycle']) chmodSync(join(launcherDir, d), 0o755);
    const launcherLayer = await output.write(() => walkTree(launcherDir, { owner: root, mtime: created }));
    layers.push(launcherLayer.layer);
    history.push({ created: time, created_by: 'Cloud Foundry launcher' });
    reported.push({
      name: 'launcher',
      diffId: launcherLayer.known.diffId,
      digest: launcherLayer.known.digest,
      size: launcherLayer.known.size,
      reused: launcherLayer.reused,
    });

    const procDir = join(staging, 'process');
    mkdirSync(join(procDir, CF_PROCESS_DIR.slice(1)), { recursive: true });
    chmodSync(join(procDir, 'cf'), 0o755);
    chmodSync(join(procDir, CF_PROCESS_DIR.slice(1)), 0o755);
    for (const [type, command] of Object.entries(processTypes))
      writeFileSync(join(procDir, CF_PROCESS_DIR.slice(1), type), command, { mode: 0o644 });
    await add('process-types', () => walkTree(procDir, { owner: root, mtime: created }), 'Process types', false);

    const runConfig = await input.runImage.config();
    const runDiffIds = runConfig.rootfs.diff_ids;
    const buildpacks =
      input.buildpacks ??
      (info.detected_buildpack ? [{ key: info.detected_buildpack, name: info.detected_buildpack }] : []);
    const dropletLabel: DropletLabel = {
      layers: dropletLayers,
      detected_buildpack: info.detected_buildpack ?? '',
      start_command: startCommand,
      ...(input.detectOutput ? { detect_output: input.detectOutput } : {}),
      buildpacks,
      process_types: processTypes,
      stack: input.stack.name,
    };
    const appDiffId = reported.find((l) => l.name === 'app')?.diffId;
    // Shaped as the CNB lifecycle writes it, so `slipway rebase` and CNB tools find the run image boundary.
    const lifecycle = {
      app: appDiffId ? [{ sha: appDiffId }] : [],
      buildpacks: buildpacks.map((b) => ({ key: b.key, version: b.version ?? '', layers: {} })),
      config: { sha: reported.find((l) => l.name === 'process-types')!.diffId },
      launcher: { sha: launcherLayer.known.diffId },
      runImage: {
        topLayer: runDiffIds[runDiffIds.length - 1] ?? '',
        reference: `${input.stack.name}/run@${input.stack.run}`,
        image: `${input.stack.name}/run`,
      },
      stack: { runImage: { image: `${input.stack.name}/run` } },
    };
    // Process types as CNB build metadata, each through the launcher, so `slipway run --process TYPE` and CNB tools see them.
    const buildMetadata = {
      buildpacks: buildpacks.map((b) => ({ id: b.key, version: b.version ?? '', api: 'cf-v2' })),
      launcher: { version: '0.1.0', source: { git: { repository: 'slipway', commit: '' } } },
      processes: Object.keys(processTypes).map((type) => ({
        type,
        command: [CF_LAUNCHER, type],
        args: null,
        direct: true,
        buildpackID: buildpacks[buildpacks.length - 1]?.key ?? '',
      })),
      ...(processTypes['web'] ? { 'buildpack-default-process-type': 'web' } : {}),
    };
    const runEnv = runConfig.config?.Env ?? [];
    const config: ImageConfig = {
      ...runConfig,
      created: time,
      config: {
        ...(runConfig.config ?? {}),
        Entrypoint: [CF_LAUNCHER],
        Env: [...runEnv.filter((e) => !/^(HOME|PORT)=/.test(e)), `HOME=${APP_DIR}`, 'PORT=8080'],
        WorkingDir: APP_DIR,
        Labels: {
          ...(runConfig.config?.Labels ?? {}),
          ...(input.labels ?? {}),
          [DROPLET_LABEL]: JSON.stringify(dropletLabel),
          [LIFECYCLE_METADATA_LABEL]: JSON.stringify(lifecycle),
          [BUILD_METADATA_LABEL]: JSON.stringify(buildMetadata),
        },
      },
      history: [...(runConfig.history ?? []), ...history],
      rootfs: { type: 'layers', diff_ids: [] },
    };
    delete config.config!.Cmd;
    const image = new ComputedImage({
      layers: [...(await input.runImage.layers()), ...layers],
      config,
      manifestMediaType: MediaType.OciManifest,
    });
    return { image, layers: reported, processTypes, startCommand };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
