import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../layer/entry.js';
import { readTar } from '../layer/tar-reader.js';
import { DPKG_STATUS_DIR, DPKG_STATUS_FILE, parseDpkgPackages, type DpkgPackage } from './dpkg.js';
import { installedPackage, isInstalledManifest, isLockFile, lockFilePackages, type NpmPackage } from './npm.js';

/** SBOM files a buildpack declared (buildpack.md "Bills of Materials"), by the name the exporter gives them. */
const DECLARED = /^layers\/sbom\/launch\/(.+)\/sbom\.(cdx|spdx|syft)\.json$/;
/** A Node.js binary a buildpack installed (Debian's /usr/bin/node is dpkg's, and listed as a package). */
const NODE_BINARY = /(^|\/)bin\/node$/;
/** Larger files than this are not manifests or lock files worth reading. */
const OS_RELEASE = ['etc/os-release', 'usr/lib/os-release'];
const MAX_FILE = 64 * 1024 * 1024;

/**
 * What one layer contributes to an SBOM: the packages its files describe and the
 * paths it deletes. Layers are content-addressed, so these facts are cached by diffID.
 */
export interface LayerFacts {
  /** The packages of the layer's own copy of var/lib/dpkg/status (undefined: the layer has none). */
  dpkgStatus?: DpkgPackage[];
  /** status.d stanza files by path. */
  dpkgStatusD: { path: string; packages: DpkgPackage[] }[];
  /** Installed npm packages (their package.json paths). */
  npmInstalled: NpmPackage[];
  /** package-lock.json files and what they pin. */
  lockFiles: { path: string; packages: NpmPackage[] }[];
  /** Paths of Node.js binaries. */
  nodeBinaries: string[];
  /** Declared SBOMs: the path under layers/sbom/launch (buildpack/layer), format and document. */
  declared: { path: string; owner: string; format: 'cdx' | 'spdx' | 'syft'; text: string }[];
  /** The layer's own os-release text (etc/os-release, else usr/lib/os-release). */
  osRelease?: string;
  /** Paths this layer deletes (whiteouts; an opaque directory as `dir/`). */
  deletes: string[];
}

export const LAYER_FACTS_VERSION = 1;

/** Reads a layer's uncompressed tar once, keeping only the files an SBOM needs. */
export async function readLayerFacts(tar: Readable): Promise<LayerFacts> {
  const facts: LayerFacts = {
    dpkgStatusD: [],
    npmInstalled: [],
    lockFiles: [],
    nodeBinaries: [],
    declared: [],
    deletes: [],
  };
  for await (const { entry, content } of readTar(tar)) {
    const path = entry.path.replace(/^\/+/, '');
    const base = posix.basename(path);
    if (base === OPAQUE_WHITEOUT) {
      facts.deletes.push(`${posix.dirname(path)}/`);
      continue;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      facts.deletes.push(posix.join(posix.dirname(path), base.slice(WHITEOUT_PREFIX.length)));
      continue;
    }
    if (entry.type !== 'file') {
      if (entry.type === 'symlink' && NODE_BINARY.test(path) && !path.startsWith('usr/')) facts.nodeBinaries.push(path);
      continue;
    }
    if (NODE_BINARY.test(path) && !path.startsWith('usr/')) {
      facts.nodeBinaries.push(path);
      continue;
    }
    const wanted =
      path === DPKG_STATUS_FILE ||
      posix.dirname(path) === DPKG_STATUS_DIR ||
      isInstalledManifest(path) ||
      isLockFile(path) ||
      DECLARED.test(path) ||
      OS_RELEASE.includes(path);
    if (!wanted || entry.size > MAX_FILE) continue;
    const chunks: Buffer[] = [];
    for await (const c of content) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const declared = DECLARED.exec(path);
    if (OS_RELEASE.includes(path)) {
      if (path === OS_RELEASE[0] || facts.osRelease === undefined) facts.osRelease = text;
    } else if (path === DPKG_STATUS_FILE) facts.dpkgStatus = parseDpkgPackages(text);
    else if (posix.dirname(path) === DPKG_STATUS_DIR)
      facts.dpkgStatusD.push({ path, packages: parseDpkgPackages(text) });
    else if (declared) facts.declared.push({ path, owner: declared[1]!, format: declared[2] as 'cdx', text });
    else if (isLockFile(path)) facts.lockFiles.push({ path, packages: lockFilePackages(text) });
    else {
      const pkg = installedPackage(path, text);
      if (pkg) facts.npmInstalled.push(pkg);
    }
  }
  return facts;
}
