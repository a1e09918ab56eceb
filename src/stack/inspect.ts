import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { LocalStore } from '../store/local-store.js';
import { parseRequest, type StackRequest } from './request.js';
import {
  latestVersion,
  listStackNames,
  stackVersions,
  versionChanges,
  type StackImageInfo,
  type VersionChanges,
} from './stack-catalog.js';
import { StackLabel } from './stack-labels.js';

export interface StackImageSummary {
  digest: Digest;
  layerSize: number;
  packages: number;
}

export interface StackVersionSummary {
  version: string;
  recorded: string;
  run: StackImageSummary;
  build: StackImageSummary;
}

export interface StackInspection {
  name: string;
  stackId: string;
  distro?: { name?: string; version?: string };
  request?: StackRequest;
  latest: string;
  versions: StackVersionSummary[];
  /** What each version changed against the one before it, oldest first. */
  changes: VersionChanges[];
  /** The packages of the run and build images of the latest version. */
  packages: { run: Record<string, string>; build: Record<string, string> };
}

/**
 * Everything about one stack: its versions with digests and sizes, and the package
 * differences version to version (what each patch changed).
 *
 * @example
 *   const s = await inspectStack(store, 'default');
 *   s.changes.at(-1)?.build.added   // packages the last update added
 */
export async function inspectStack(store: LocalStore, name: string): Promise<StackInspection> {
  const versions = await stackVersions(store, name);
  const last = versions[versions.length - 1]!;
  const labels = last.run.labels;
  const request = parseRequest(last.build.labels[StackLabel.Request]);
  const distro =
    labels[StackLabel.DistroName] || labels[StackLabel.DistroVersion]
      ? { name: labels[StackLabel.DistroName], version: labels[StackLabel.DistroVersion] }
      : undefined;
  const changes: VersionChanges[] = [];
  for (let i = 1; i < versions.length; i++) changes.push(versionChanges(versions[i - 1]!, versions[i]!));
  return {
    name,
    stackId: labels[StackLabel.StackId] ?? '',
    ...(distro ? { distro } : {}),
    ...(request ? { request } : {}),
    latest: last.version,
    versions: versions.map((v) => ({
      version: v.version,
      recorded: v.recorded,
      run: summary(v.run),
      build: summary(v.build),
    })),
    changes,
    packages: { run: last.run.packages, build: last.build.packages },
  };
}

/** The package differences between two versions of a stack ("3" and "5", or "latest"). */
export async function diffStackVersions(
  store: LocalStore,
  name: string,
  from: string,
  to: string,
): Promise<VersionChanges> {
  const versions = await stackVersions(store, name);
  const find = (v: string) => {
    const found = v === 'latest' ? versions[versions.length - 1] : versions.find((x) => x.version === v);
    if (!found)
      throw new SlipwayError(
        'NOT_FOUND',
        `stack ${name} has no version ${v} (it has ${versions.map((x) => x.version).join(', ')})`,
      );
    return found;
  };
  return versionChanges(find(from), find(to));
}

export interface StackListEntry {
  name: string;
  stackId: string;
  latest: string;
  distro?: string;
  run: StackImageSummary;
  build: StackImageSummary;
}

/** One line per stack in the store. */
export async function listStacks(store: LocalStore): Promise<StackListEntry[]> {
  const out: StackListEntry[] = [];
  for (const name of await listStackNames(store)) {
    const latest = await latestVersion(store, name);
    if (!latest) continue;
    const l = latest.run.labels;
    const distro = [l[StackLabel.DistroName], l[StackLabel.DistroVersion]].filter(Boolean).join(' ');
    out.push({
      name,
      stackId: l[StackLabel.StackId] ?? '',
      latest: latest.version,
      ...(distro ? { distro } : {}),
      run: summary(latest.run),
      build: summary(latest.build),
    });
  }
  return out;
}

function summary(i: StackImageInfo): StackImageSummary {
  return { digest: i.digest, layerSize: i.layerSize, packages: Object.keys(i.packages).length };
}
