import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapeId, type BuildpackDescriptor } from '../../buildpack/cnb/buildpack-descriptor.js';
import { toToml } from '../../buildpack/cnb/toml.js';
import { ComputedImage } from '../../image/computed-image.js';
import type { Image, Layer } from '../../image/types.js';
import { walkTree, type OwnerPolicy } from '../../layer/tree-walk.js';
import type { TarEntry } from '../../layer/entry.js';
import type { Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import type { HistoryEntry, ImageConfig } from '../../oci/types.js';
import type { BuildReport } from './builder.js';
import { launchDefinitions } from './launch-definitions.js';
import type { LayerOutput, KnownLayer } from '../layer-output.js';
import { LayersMetadata, type BuildMetadata, type LayerRecord } from './metadata-labels.js';
import { APP_DIR, LAYERS_DIR, type StagingDirs } from './paths.js';
import { StageError } from './stage-error.js';
import { sliceMatcher } from './slices.js';

export const PLATFORM_API = '0.12';
export const LAUNCHER_PATH = '/cnb/lifecycle/launcher';
const LAUNCHER_SOURCE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'launcher', 'launcher.sh');

/** What the exporter reports for each layer of the new image above the run image. */
export interface ExportedLayer {
  name: string;
  diffId: Digest;
  digest: Digest;
  size: number;
  reused: boolean;
}

export interface ExportInput {
  dirs: StagingDirs;
  user: { uid: number; gid: number };
  runImage: Image;
  /** runImage.image and runImage.reference of the label. */
  runImageName: string;
  runImageReference: string;
  /**
   * runImage.topLayer of the label when runImage was extended: the top layer of the run
   * image before the extensions' layers, as the lifecycle records it (so a rebase of a
   * rebasable extended image keeps those layers over the new base).
   */
  runImageTopLayer?: Digest;
  build: BuildReport;
  /** The previous image's lifecycle metadata, for layers reused without contents. */
  previous?: LayersMetadata;
  /** Seconds since the epoch for `created` and every file. */
  created: number;
  projectMetadata: Record<string, unknown>;
}

/**
 * The export phase (platform.md "exporter"; lifecycle phase/exporter.go): the run
 * image's layers, then each buildpack's launch layers (group order, layer names
 * sorted), the app layers (slices, then the rest of the workspace), the launcher,
 * the launcher config and the process types, with the config and labels the
 * lifecycle writes.
 */
export class Exporter {
  constructor(private readonly output: LayerOutput) {}

  async export(input: ExportInput): Promise<{ image: Image; layers: ExportedLayer[] }> {
    const { dirs, user, build, created } = input;
    const owner: OwnerPolicy = { kind: 'map', uid: user.uid, gid: user.gid };
    const root: OwnerPolicy = { kind: 'map', uid: 0, gid: 0 };
    const layers: Layer[] = [];
    const history: HistoryEntry[] = [];
    const exported: ExportedLayer[] = [];
    const time = isoTime(created);
    const add = (name: string, layer: Layer, known: KnownLayer, reused: boolean, createdBy: string) => {
      layers.push(layer);
      history.push({ created: time, created_by: createdBy });
      exported.push({ name, diffId: known.diffId, digest: known.digest, size: known.size, reused });
    };

    const buildpackRecords = [];
    for (const b of build.buildpacks) {
      const esc = escapeId(b.buildpack.id);
      const records: Record<string, LayerRecord> = {};
      for (const l of b.layers.filter((x) => x.types.launch)) {
        const name = `${b.buildpack.id}:${l.name}`;
        const createdBy = `Layer: '${l.name}', Created by buildpack: ${b.buildpack.id}@${b.buildpack.version}`;
        let known: KnownLayer;
        if (l.hasContents) {
          const r = await this.output.write(() =>
            walkTree(join(dirs.buildpackLayers(b.buildpack), l.name), {
              prefix: `${LAYERS_DIR.slice(1)}/${esc}/${l.name}`,
              includeRoot: true,
              owner,
              mtime: created,
              beneath: dirs.layers,
            }),
          );
          known = r.known;
          add(name, r.layer, known, r.reused, createdBy);
        } else {
          const sha = input.previous?.buildpacks.find((p) => p.key === b.buildpack.id)?.layers[l.name]?.sha;
          const prev = sha ? input.previous?.knownLayer(sha) : undefined;
          if (!prev)
            throw new StageError(
              62,
              'export',
              `buildpack ${b.buildpack.id} kept layer "${l.name}" by its metadata alone (launch = true, no directory), but the previous image has no such layer`,
              { buildpack: b.buildpack.id, layer: l.name },
            );
          known = prev;
          add(name, await this.output.reuse(prev), prev, true, createdBy);
        }
        records[l.name] = {
          sha: known.diffId,
          data: l.types.metadata,
          build: l.types.build,
          launch: true,
          cache: l.types.cache,
        };
      }
      buildpackRecords.push({
        key: b.buildpack.id,
        version: b.buildpack.version,
        layers: records,
        ...(b.store ? { store: { metadata: b.store } } : {}),
      });
    }

    // The launch SBOMs as one layer after the buildpack layers, before the app (lifecycle Exporter.Export).
    let sbom: { sha: Digest } | undefined;
    const sbomDir = join(dirs.layers, 'sbom', 'launch');
    if (dirs.layersTree.isDirectory('sbom/launch')) {
      const r = await this.output.write(() =>
        walkTree(sbomDir, {
          prefix: `${LAYERS_DIR.slice(1)}/sbom/launch`,
          includeRoot: true,
          owner,
          mtime: created,
          beneath: dirs.layers,
        }),
      );
      add('sbom', r.layer, r.known, r.reused, 'Software Bill-of-Materials');
      sbom = { sha: r.known.diffId };
    }

    // App layers: one per slice (files matching its globs and not taken by an earlier slice), then the rest.
    const taken: ((path: string) => boolean)[] = [];
    const appShas: { sha: Digest }[] = [];
    const appLayer = async (keep: (path: string) => boolean, label: string) => {
      const r = await this.output.write(() =>
        walkTree(dirs.workspace, {
          prefix: APP_DIR.slice(1),
          includeRoot: true,
          owner,
          mtime: created,
          beneath: dirs.root,
          transform: (e) =>
            e.path === APP_DIR.slice(1) || e.type === 'directory' || keep(e.path.slice(APP_DIR.length)) ? e : null,
        }),
      );
      add(
        label,
        r.layer,
        r.known,
        r.reused,
        label === 'app' ? 'Application Layer' : `Application Slice: ${appShas.length + 1}`,
      );
      appShas.push({ sha: r.known.diffId });
    };
    for (const [i, slice] of build.slices.entries()) {
      const match = sliceMatcher(slice);
      const before = [...taken];
      await appLayer((p) => match(p) && !before.some((t) => t(p)), `slice ${i + 1}`);
      taken.push(match);
    }
    await appLayer((p) => !taken.some((t) => t(p)), 'app');

    const staging = mkdtempSync(join(tmpdir(), 'slipway-export-'));
    try {
      mkdirSync(join(staging, 'launcher', 'cnb', 'lifecycle'), { recursive: true });
      writeFileSync(join(staging, 'launcher', 'cnb', 'lifecycle', 'launcher'), readFileSync(LAUNCHER_SOURCE));
      for (const p of ['cnb', 'cnb/lifecycle', 'cnb/lifecycle/launcher'])
        chmodSync(join(staging, 'launcher', p), 0o755);
      const launcher = await this.output.write(() =>
        walkTree(join(staging, 'launcher'), { owner: root, mtime: created }),
      );
      add('launcher', launcher.layer, launcher.known, launcher.reused, 'Buildpacks Application Launcher');

      const configDir = join(staging, 'config');
      mkdirSync(configDir, { recursive: true });
      writeFileSync(join(configDir, 'metadata.toml'), toToml(metadataToml(build)));
      writeFileSync(
        join(configDir, 'slipway-launch.sh'),
        launchDefinitions(
          build.buildpacks.map((b) => b.buildpack.id),
          build.processes,
          build.defaultProcess,
        ),
      );
      const config = await this.output.write(() =>
        walkTree(configDir, { prefix: `${LAYERS_DIR.slice(1)}/config`, includeRoot: true, owner, mtime: created }),
      );
      add('config', config.layer, config.known, config.reused, 'Buildpacks Launcher Config');

      let processTypes: KnownLayer | undefined;
      if (build.processes.length > 0) {
        const dir = join(staging, 'process', 'cnb', 'process');
        mkdirSync(dir, { recursive: true });
        chmodSync(join(staging, 'process', 'cnb'), 0o755);
        chmodSync(dir, 0o755);
        for (const p of build.processes) symlinkSync(LAUNCHER_PATH, join(dir, p.type));
        const r = await this.output.write(() => walkTree(join(staging, 'process'), { owner: root, mtime: created }));
        add('process-types', r.layer, r.known, r.reused, 'Buildpacks Process Types');
        processTypes = r.known;
      }

      const runConfig = await input.runImage.config();
      const runLayers = await input.runImage.layers();
      const runDiffIds = runConfig.rootfs.diff_ids;
      const metadata = new LayersMetadata({
        app: appShas,
        ...(sbom ? { sbom } : {}),
        buildpacks: buildpackRecords,
        config: { sha: config.known.diffId },
        launcher: { sha: launcher.known.diffId },
        ...(processTypes ? { 'process-types': { sha: processTypes.diffId } } : {}),
        runImage: {
          topLayer: input.runImageTopLayer ?? runDiffIds[runDiffIds.length - 1] ?? '',
          reference: input.runImageReference,
          image: input.runImageName,
        },
        stack: { runImage: { image: input.runImageName } },
      });
      const buildMetadata: BuildMetadata = {
        buildpacks: build.buildpacks.map((b) => buildpackRef(b.buildpack)),
        launcher: { version: '0.1.0', source: { git: { repository: 'slipway', commit: '' } } },
        processes: build.processes.map((p) => ({
          type: p.type,
          command: p.command,
          args: p.args.length ? p.args : null,
          direct: p.direct,
          buildpackID: p.buildpackId,
          ...(p.workingDir ? { 'working-dir': p.workingDir } : {}),
        })),
        ...(build.defaultProcess ? { 'buildpack-default-process-type': build.defaultProcess } : {}),
      };
      const runEnv = runConfig.config?.Env ?? [];
      const runPath = runEnv.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
      const env = [
        ...runEnv.filter((e) => !/^(PATH|CNB_LAYERS_DIR|CNB_APP_DIR|CNB_PLATFORM_API|CNB_DEPRECATION_MODE)=/.test(e)),
        `CNB_LAYERS_DIR=${LAYERS_DIR}`,
        `CNB_APP_DIR=${APP_DIR}`,
        `CNB_PLATFORM_API=${PLATFORM_API}`,
        'CNB_DEPRECATION_MODE=quiet',
        `PATH=/cnb/process:/cnb/lifecycle:${runPath}`,
      ];
      const imageConfig: ImageConfig = {
        ...runConfig,
        created: time,
        config: {
          ...(runConfig.config ?? {}),
          Entrypoint: [build.defaultProcess ? `/cnb/process/${build.defaultProcess}` : LAUNCHER_PATH],
          Env: env,
          WorkingDir: APP_DIR,
          Labels: {
            ...(runConfig.config?.Labels ?? {}),
            ...build.labels,
            'io.buildpacks.lifecycle.metadata': metadata.json(),
            'io.buildpacks.build.metadata': JSON.stringify(buildMetadata),
            'io.buildpacks.project.metadata': JSON.stringify(input.projectMetadata),
          },
        },
        history: [...(runConfig.history ?? []), ...history],
        rootfs: { type: 'layers', diff_ids: [] },
      };
      delete imageConfig.config!.Cmd;
      const image = new ComputedImage({
        layers: [...runLayers, ...layers],
        config: imageConfig,
        manifestMediaType: MediaType.OciManifest,
      });
      return { image, layers: exported };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
}

/** `<layers>/config/metadata.toml` as the builder writes it (platform.md). */
function metadataToml(build: BuildReport): Record<string, unknown> {
  return {
    ...(build.defaultProcess ? { 'buildpack-default-process-type': build.defaultProcess } : {}),
    buildpacks: build.buildpacks.map((b) => ({
      id: b.buildpack.id,
      version: b.buildpack.version,
      api: b.buildpack.api,
    })),
    processes: build.processes.map((p) => ({
      type: p.type,
      command: p.command,
      args: p.args,
      direct: p.direct,
      'buildpack-id': p.buildpackId,
      ...(p.workingDir ? { 'working-dir': p.workingDir } : {}),
    })),
    slices: build.slices.map((paths) => ({ paths })),
  };
}

function buildpackRef(bp: BuildpackDescriptor): { id: string; version: string; api: string; homepage?: string } {
  return { id: bp.id, version: bp.version, api: bp.api, ...(bp.homepage ? { homepage: bp.homepage } : {}) };
}

export function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

export type { TarEntry };
