#!/usr/bin/env -S node --
// The "--": Node 20 takes --env-file from anywhere in argv, even after the script, so
// `slipway build --env-file F` would load F into this process (and die if it is missing).
// Runs the compiled CLI when present (npm run build), else the TypeScript source through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const compiled = join(root, 'dist', 'cli', 'main.js');
if (existsSync(compiled) && !process.env.SLIPWAY_FROM_SOURCE) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
