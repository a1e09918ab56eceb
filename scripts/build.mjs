#!/usr/bin/env node
/**
 * `npm run build`: tsc (type-checks and emits dist/, the library API with its .d.ts), then
 * the CLI bundle that bin/slipway.js runs (issue 23, a fast start):
 *
 *   dist/bundle/cli/main.cjs, chunk-*.cjs   the CLI and its dependencies, split by esbuild so a
 *                                           command loads only its own chunks; CommonJS, so that
 *                                           bin/slipway.js can compile each with vm.Script and a
 *                                           V8 code cache (ESM has no cachedData in Node 20)
 *   dist/bundle/cli/supervisor-main.js      the detached-container supervisor, an entry that
 *                                           src/runtime/containers.ts spawns beside itself
 *   dist/bundle/cli/manifest.json           {version, hash, entry}: the hash keys the code cache
 *   dist/bundle/cli/chunks.json             what each chunk mostly holds, to read profiles by
 *
 * The native addons stay external (required from node_modules at run time), as do optional
 * dependencies that are not installed. Three levels deep, like dist/stage/cnb/, so that the
 * import.meta.url-relative paths to buildpacks/ and launcher/ hold in the bundle too.
 *
 *   node scripts/build.mjs [--outdir DIR (default dist)] [--no-tsc] [--metafile FILE (esbuild's, of the CLI)]
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, transform } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    outdir: { type: 'string', default: join(root, 'dist') },
    'no-tsc': { type: 'boolean', default: false },
    metafile: { type: 'string' },
  },
});
const outdir = resolve(values.outdir);

/**
 * Native addons and optional peers that may be absent: required from node_modules at run time.
 * better-sqlite3 is bundled but for its addon (see betterSqliteAddon): it is on the path of
 * every command that opens the store.
 */
const EXTERNAL = [
  // Not a '*.node' pattern: that would also take `require('./x/index.node')` of index.node.js files.
  'better-sqlite3/build/Release/better_sqlite3.node',
  '@node-rs/argon2',
  '@napi-rs/xattr',
  'zstd-napi',
  'pg-native',
  'xmlbuilder2',
  'libxmljs2',
];

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// bin/slipway.js answers a lone --version from the manifest without loading the CLI: one version.
const declared = /const VERSION = '([^']+)'/.exec(readFileSync(join(root, 'src/cli/main.ts'), 'utf8'))?.[1];
if (declared !== pkg.version) {
  console.error(`build: src/cli/main.ts says version ${declared}, package.json ${pkg.version}`);
  process.exit(1);
}

if (!values['no-tsc']) {
  execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.json'), '--outDir', outdir], {
    cwd: root,
    stdio: 'inherit',
  });
}

/**
 * better-sqlite3 finds its addon through the `bindings` package, which walks up from its
 * caller's file (found from a stack trace) and stats a dozen candidate paths: from a bundle
 * it would look in the wrong place. Its one call is answered with the addon's own path in
 * the package, required from node_modules at run time.
 */
const betterSqliteAddon = {
  name: 'better-sqlite3-addon',
  setup(b) {
    b.onResolve({ filter: /^bindings$/ }, (args) =>
      /node_modules[\\/]better-sqlite3[\\/]/.test(args.importer)
        ? { path: 'better-sqlite3-addon', namespace: 'slipway' }
        : undefined,
    );
    b.onLoad({ filter: /^better-sqlite3-addon$/, namespace: 'slipway' }, () => ({
      contents:
        "module.exports = (name) => { if (name !== 'better_sqlite3.node') throw new Error(`bindings: ${name}`); " +
        "return require('better-sqlite3/build/Release/better_sqlite3.node'); };",
      loader: 'js',
    }));
  },
};

/**
 * commander requires node:child_process (and with it node:net) at load, for executable
 * subcommands, which Slipway has none of: a few ms of every start. Required on first spawn.
 */
const lazyCommanderSpawn = {
  name: 'lazy-commander-spawn',
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const eager = "const childProcess = require('node:child_process');";
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes(eager)) throw new Error(`commander changed: no "${eager}" in ${args.path}`);
      const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
      return { contents: source.replace(eager, lazy), loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  plugins: [betterSqliteAddon, lazyCommanderSpawn],
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  legalComments: 'none',
  logLevel: 'warning',
  absWorkingDir: root,
  // Less to read and for V8 to pre-parse at each start (names stay: stack traces and errors keep them);
  // ASCII, so that V8 holds each chunk as a one-byte string.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
};
const dir = join(outdir, 'bundle', 'cli');
const staging = `${dir}.tmp-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });

// The CLI: ESM with splitting (one chunk per command's own code, shared chunks for what
// commands share), each output then turned into CommonJS for vm.Script.
const cli = await build({
  ...common,
  entryPoints: { main: 'src/cli/main.ts' },
  format: 'esm',
  splitting: true,
  outdir: staging,
  outExtension: { '.js': '.cjs' },
  chunkNames: 'chunk-[hash]',
  write: false,
  metafile: true,
});
if (values.metafile) writeFileSync(values.metafile, JSON.stringify(cli.metafile));
/** What a chunk mostly holds (a package, or a folder of src/), for profiles: bench/cli-start.ts --profile. */
const labels = {};
for (const [path, output] of Object.entries(cli.metafile.outputs)) {
  const bytes = new Map();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const what =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? /^src\/([^/]+\/)?/.exec(input)?.[0] ?? input;
    bytes.set(what, (bytes.get(what) ?? 0) + bytesInOutput);
  }
  labels[basename(path)] = [...bytes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '?';
}
const hash = createHash('sha256');
for (const file of cli.outputFiles.sort((a, b) => a.path.localeCompare(b.path))) {
  const { code } = await transform(file.text, {
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    loader: 'js',
    minifyWhitespace: true,
    charset: 'ascii',
    // import() of a chunk as require(): bin/slipway.js's loader, with its code cache, not Node's ESM loader.
    supported: { 'dynamic-import': false },
    // Each chunk's own URL (all sit in one folder): bin/slipway.js passes __filename.
    define: { 'import.meta.url': '__slipway_url', 'import.meta.resolve': '__slipway_resolve' },
    banner:
      "var __slipway_url = require('node:url').pathToFileURL(__filename).href;" +
      "var __slipway_resolve = (s) => require('node:url').pathToFileURL(require.resolve(s)).href;",
    // The dependencies' own warnings (esbuild's lint of their code) were given by the build above.
    logLevel: 'error',
  });
  hash.update(basename(file.path)).update(code);
  writeFileSync(join(staging, relative(staging, file.path)), code);
}

// Entries Node runs itself (spawned as their own process): plain ESM files.
await build({
  ...common,
  entryPoints: { 'supervisor-main': 'src/runtime/supervisor-main.ts' },
  format: 'esm',
  outdir: staging,
  banner: { js: "import { createRequire as __slipway_cr } from 'node:module'; const require = __slipway_cr(import.meta.url);" },
});
writeFileSync(join(staging, 'chunks.json'), `${JSON.stringify(labels, null, 1)}\n`);
writeFileSync(
  join(staging, 'manifest.json'),
  `${JSON.stringify({ version: pkg.version, hash: hash.digest('hex').slice(0, 16), entry: 'main.cjs' })}\n`,
);
// Swapped in at the end: a CLI started mid-build meets the old bundle, or none (then dist/cli/main.js).
rmSync(dir, { recursive: true, force: true });
renameSync(staging, dir);
console.log(`build: ${relative(root, dir)} (${cli.outputFiles.length} chunks)`);
