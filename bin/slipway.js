#!/usr/bin/env node
// Runs the compiled CLI when present (npm run build), else the TypeScript source through tsx.
// The container commands have an entry of their own that loads only what they need.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const RUNTIME_COMMANDS = new Set(['run', 'ps', 'stop', 'logs', 'container']);

/** The subcommand named on the command line: the first operand, skipping global options and --home's value. */
function requestedCommand(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--home') i++;
    else if (!argv[i].startsWith('-')) return argv[i];
  }
  return undefined;
}

const entry = RUNTIME_COMMANDS.has(requestedCommand(process.argv.slice(2))) ? 'runtime-main' : 'main';
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const compiled = join(root, 'dist', 'cli', `${entry}.js`);
if (existsSync(compiled) && !process.env.SLIPWAY_FROM_SOURCE) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', `${entry}.ts`)).href);
}
