#!/usr/bin/env -S node --
// The "--": Node 20 takes --env-file from anywhere in argv, even after the script, so
// `slipway build --env-file F` would load F into this process (and die if it is missing).
//
// Runs, in order of preference:
// - the bundle of `npm run build` (dist/bundle/cli, see scripts/build.mjs): CommonJS chunks,
//   each compiled here with vm.Script and a V8 code cache, so that a command starts without
//   Node's module loaders resolving, reading and compiling hundreds of files (issue 23);
// - the tsc output, dist/cli/main.js (a build without the bundle);
// - the TypeScript source through tsx (a checkout, or SLIPWAY_FROM_SOURCE=1).
// SLIPWAY_TEST_CLI=built (scripts/test.sh) insists on the bundle, over SLIPWAY_FROM_SOURCE, so that
// the whole suite runs what is published.
// CommonJS (bin/package.json): an ES module entry would start Node's ESM loader, some 8 ms of a
// start that aims at 15 over `node -e 0`.
'use strict';
const {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} = require('node:fs');
const { createRequire } = require('node:module');
const { homedir } = require('node:os');
const { dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { Script } = require('node:vm');

const root = dirname(__dirname);
const bundle = join(root, 'dist', 'bundle', 'cli');
const built = process.env.SLIPWAY_TEST_CLI === 'built';
const manifest = built || !process.env.SLIPWAY_FROM_SOURCE ? readManifest() : undefined;

if (manifest) {
  const args = process.argv.slice(2);
  // A lone --version needs none of the CLI (src/cli/main.ts prints the same; the build checks).
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) process.stdout.write(`${manifest.version}\n`);
  else runBundle(manifest, args);
} else if (built) {
  process.stderr.write(`slipway: error: SLIPWAY_TEST_CLI=built but there is no bundle in ${bundle} (npm run build)\n`);
  process.exitCode = 1;
} else if (!process.env.SLIPWAY_FROM_SOURCE && existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  import(pathToFileURL(join(root, 'dist', 'cli', 'main.js')).href).catch(failedToLoad);
} else {
  // tsx's ESM API (its CommonJS build of it registers hooks it cannot find).
  import('tsx/esm/api')
    .then(({ register }) => {
      register();
      return import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
    })
    .catch(failedToLoad);
}

/** The CLI itself could not be loaded (a broken build or checkout): say so, exit 1. */
function failedToLoad(err) {
  process.stderr.write(`slipway: error: cannot load the CLI: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
}

function readManifest() {
  try {
    return JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A CommonJS loader for the bundle's own chunks (`require('./chunk-X.cjs')`); everything else
 * (built-ins, native addons) goes to Node's require. Each chunk is compiled with the code V8
 * cached on an earlier run of the same command, in one file per command:
 * $SLIPWAY_CODE_CACHE (a directory, or 0 for none), else $XDG_CACHE_HOME/slipway/code-cache,
 * else ~/.cache/slipway/code-cache. A missing, stale (another bundle or Node) or corrupt cache
 * costs only the compile it would have saved, and is written anew at exit.
 */
function runBundle(manifest, args) {
  const cacheFile = codeCacheFile(manifest, args);
  const cached = cacheFile ? readCodeCache(cacheFile) : new Map();
  const nodeRequire = createRequire(join(bundle, manifest.entry));
  const modules = new Map();
  const scripts = new Map();
  let missed = false;
  const chunkRequire = Object.assign(
    (id) => (id.startsWith('./') && id.endsWith('.cjs') ? load(id.slice(2)) : nodeRequire(id)),
    { resolve: nodeRequire.resolve, cache: nodeRequire.cache },
  );
  function load(name) {
    const known = modules.get(name);
    if (known) return known.exports;
    const filename = join(bundle, name);
    const module = { exports: {}, id: filename, filename, loaded: false };
    modules.set(name, module);
    const cachedData = cached.get(name);
    // The wrapper on the first line keeps the chunk's line numbers in stack traces.
    const script = new Script(
      `(function (exports, require, module, __filename, __dirname) {${readFileSync(filename, 'utf8')}\n})`,
      { filename, cachedData },
    );
    if (!cachedData || script.cachedDataRejected) missed = true;
    scripts.set(name, script);
    script.runInThisContext().call(module.exports, module.exports, chunkRequire, module, filename, bundle);
    module.loaded = true;
    return module.exports;
  }
  // At exit the scripts hold the code of every function this command ran: the next start compiles none of it.
  if (cacheFile) process.once('exit', () => missed && writeCodeCache(cacheFile, scripts));
  load(manifest.entry);
}

function codeCacheFile(manifest, args) {
  const setting = process.env.SLIPWAY_CODE_CACHE;
  if (setting === '0') return undefined;
  const base = setting || process.env.XDG_CACHE_HOME || (homedir() && join(homedir(), '.cache'));
  if (!base) return undefined;
  // The command (as src/cli/main.ts finds it): each command caches the functions it runs.
  let command = 'none';
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--home') i++;
    else if (!args[i].startsWith('-')) {
      command = /^[a-z][a-z0-9-]{0,40}$/.test(args[i]) ? args[i] : 'other';
      break;
    }
  }
  const key = `${manifest.hash}-${process.version}-${process.arch}`;
  return join(base, ...(setting ? [] : ['slipway', 'code-cache']), key, `${command}.bin`);
}

/** The file: a JSON line [[chunk, bytes], ...], then each chunk's cached data in that order. */
function readCodeCache(file) {
  const chunks = new Map();
  try {
    const data = readFileSync(file);
    const eol = data.indexOf(10);
    let at = eol + 1;
    for (const [name, size] of JSON.parse(data.subarray(0, eol).toString())) {
      if (typeof name !== 'string' || !Number.isInteger(size) || at + size > data.length) return new Map();
      chunks.set(name, data.subarray(at, (at += size)));
    }
  } catch {
    return new Map();
  }
  return chunks;
}

function writeCodeCache(file, scripts) {
  try {
    const parts = [...scripts].map(([name, script]) => [name, script.createCachedData()]);
    const head = Buffer.from(`${JSON.stringify(parts.map(([name, data]) => [name, data.length]))}\n`);
    mkdirSync(dirname(file), { recursive: true });
    // Written aside and renamed: a reader sees a whole file, never a half-written one.
    const part = `${file}.${process.pid}.tmp`;
    writeFileSync(part, Buffer.concat([head, ...parts.map(([, data]) => data)]));
    renameSync(part, file);
    // The caches of other bundles (earlier builds) go once unused for a day; a bundle in use keeps its own.
    const keys = dirname(dirname(file));
    for (const key of readdirSync(keys)) {
      const dir = join(keys, key);
      const ours = /^[0-9a-f]{16}-v[0-9.]+-[a-z0-9]+$/.test(key);
      if (ours && dir !== dirname(file) && Date.now() - statSync(dir).mtimeMs > 86_400_000)
        rmSync(dir, { recursive: true, force: true });
    }
  } catch {
    // A cache that cannot be written (a read-only home) only costs the next start its compile.
  }
}
