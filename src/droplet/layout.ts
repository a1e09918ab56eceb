/**
 * Where a Cloud Foundry droplet lives in an image, and the labels that describe it.
 * CF extracts a droplet into /home/vcap (DownloadAction `to: '.'` as user vcap, or
 * an ImageLayer with destination /home/vcap): app/, deps/IDX/, profile.d/, tmp/,
 * logs/ and staging_info.yml.
 */
export const DROPLET_ROOT = '/home/vcap';
export const APP_DIR = `${DROPLET_ROOT}/app`;

/** The launcher (POSIX sh) and the process types it reads, one file per type holding the command. */
export const CF_LAUNCHER = '/cf/lifecycle/launcher';
export const CF_PROCESS_DIR = '/cf/process';

/** Slipway's record of the droplet inside an image: which layers hold it, and what staging said. */
export const DROPLET_LABEL = 'io.slipway.droplet';
export const LIFECYCLE_METADATA_LABEL = 'io.buildpacks.lifecycle.metadata';
export const BUILD_METADATA_LABEL = 'io.buildpacks.build.metadata';

/** A buildpack as CF's result.json lists it (lifecycle_metadata.buildpacks[]). */
export interface DropletBuildpack {
  key: string;
  name: string;
  version?: string;
}

/** The JSON of io.slipway.droplet. */
export interface DropletLabel {
  /** diffIDs of the droplet's layers, base first: the root (profile.d, staging_info.yml, tmp, logs), each deps/IDX, the app. */
  layers: string[];
  detected_buildpack: string;
  start_command: string;
  /** The buildpack's detect output (detect mode), else empty. */
  detect_output?: string;
  buildpacks: DropletBuildpack[];
  process_types: Record<string, string>;
  stack: string;
}

/** staging_info.yml: JSON text despite its name (buildpackapplifecycle writes it with json.Marshal). */
export interface StagingInfo {
  detected_buildpack?: string;
  start_command?: string;
  config?: { entrypoint_prefix?: string };
}
