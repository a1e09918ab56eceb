import { Command, Option } from 'commander';
import { SlipwayError } from '../../errors.js';
import { pull } from '../../copy/pull.js';
import { importRootfs } from '../../copy/import-rootfs.js';
import { formatLocalName, parseLocalName } from '../../oci/reference.js';
import { parsePlatform } from '../../oci/platform.js';
import { parseTransport } from '../../oci/transport.js';
import type { ContainerConfig } from '../../oci/types.js';
import { formatBytes } from '../format.js';
import { importHint, isBarePath } from '../import-hint.js';
import { run } from '../run.js';
import { TRANSPORT_HELP } from './copy.js';

interface ImportOptions {
  rootfs?: boolean;
  os?: string;
  arch?: string;
  variant?: string;
  platform?: string;
  all?: boolean;
  compression: 'gzip' | 'zstd';
  entrypoint?: string;
  cmd?: string;
  env: string[];
  workdir?: string;
  user?: string;
  label: string[];
  config?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function importCommand(): Command {
  return new Command('import')
    .description('Import an image (OCI layout or archive, docker archive) or a root filesystem into the local store')
    .argument('<src>', 'image reference, or with --rootfs a directory or tarball (tar, tar.gz, tar.zst)')
    .argument('[name]', 'local name NAME[:TAG] (default: the name the source carries)')
    .option('--rootfs', 'SRC is a root filesystem: make a one-layer image of it')
    .option('--os <os>', 'with --rootfs: the image os (default linux)')
    .option('--arch <arch>', "with --rootfs: the image architecture (default: this machine's)")
    .option('--variant <variant>', 'with --rootfs: the architecture variant')
    .option('--entrypoint <json|string>', 'with --rootfs: Entrypoint, a JSON array or one command')
    .option('--cmd <json|string>', 'with --rootfs: Cmd, a JSON array or one command')
    .option('--env <KEY=VALUE>', 'with --rootfs: an environment variable (repeatable)', collect, [])
    .option('--workdir <dir>', 'with --rootfs: WorkingDir')
    .option('--user <user>', 'with --rootfs: User (name or uid[:gid])')
    .option('--label <KEY=VALUE>', 'with --rootfs: a label (repeatable)', collect, [])
    .option('--config <json>', 'with --rootfs: more container config fields as a JSON object')
    .option(
      '--platform <os/arch[/variant]>',
      "the platform to take from a multi-platform image (default: this machine's)",
    )
    .option('--all', 'import every platform of a multi-platform image')
    .addOption(
      new Option('--compression <algorithm>', 'compression for new or uncompressed layers')
        .choices(['gzip', 'zstd'])
        .default('gzip'),
    )
    .addHelpText(
      'after',
      `${TRANSPORT_HELP}

Examples:
  $ slipway import --rootfs ./rootfs debian:bookworm --cmd /bin/bash
  $ slipway import oci:/tmp/layout:v1 myapp:v1
  $ slipway import docker-archive:saved.tar`,
    )
    .action(
      run(async (ctx, src: string, name: string | undefined, opts: ImportOptions) => {
        if (opts.rootfs) {
          if (!name)
            throw new SlipwayError(
              'INVALID_ARGUMENT',
              'import --rootfs needs a NAME for the new image, e.g. slipway import --rootfs ./rootfs debian:bookworm',
            );
          const dest = parseLocalName(name);
          const platform = {
            ...(opts.os ? { os: opts.os } : {}),
            ...(opts.arch ? { architecture: opts.arch } : {}),
            ...(opts.variant ? { variant: opts.variant } : {}),
          };
          const desc = await importRootfs(await ctx.store(), src, dest.name, dest.tag ?? 'latest', {
            platform,
            config: containerConfig(opts),
            compression: opts.compression,
            progress: ctx.progress(),
          });
          const out = { name: formatLocalName(dest), digest: desc.digest, size: desc.size, mediaType: desc.mediaType };
          ctx.print(out, () => `Imported ${src} as ${out.name}\n${desc.digest}`);
          return;
        }
        // A file or directory given as it is (a podman load habit) is not a reference: say what it looks like.
        if (isBarePath(src)) throw importHint(src, name);
        const source = parseTransport(src);
        const dest = name ? parseLocalName(name) : undefined;
        const report = await pull(source, dest, ctx.store, {
          all: opts.all ?? false,
          compression: opts.compression,
          progress: ctx.progress(),
          ...(opts.platform ? { platform: parsePlatform(opts.platform) } : {}),
        });
        ctx.print(
          report,
          () =>
            `Imported ${report.source} as ${report.destination}\n${report.digest} (${report.blobsSent} blobs written, ${report.blobsSkipped} already stored, ${formatBytes(report.bytesSent)})`,
        );
      }),
    );
}

function containerConfig(opts: ImportOptions): ContainerConfig {
  const config: ContainerConfig = opts.config ? parseJsonObject(opts.config, '--config') : {};
  if (opts.entrypoint) config.Entrypoint = commandList(opts.entrypoint);
  if (opts.cmd) config.Cmd = commandList(opts.cmd);
  if (opts.env.length) config.Env = [...(config.Env ?? []), ...opts.env.map((e) => keyValue(e, '--env'))];
  if (opts.workdir) config.WorkingDir = opts.workdir;
  if (opts.user) config.User = opts.user;
  if (opts.label.length) {
    config.Labels = { ...(config.Labels ?? {}) };
    for (const l of opts.label) {
      const kv = keyValue(l, '--label');
      config.Labels[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    }
  }
  return config;
}

function commandList(value: string): string[] {
  if (value.trim().startsWith('[')) {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed;
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `"${value}" is not a JSON array of strings, e.g. ["/bin/sh","-c","echo hi"]`,
    );
  }
  return [value];
}

function keyValue(value: string, flag: string): string {
  if (value.indexOf('=') <= 0) throw new SlipwayError('INVALID_ARGUMENT', `${flag} "${value}" must be KEY=VALUE`);
  return value;
}

function parseJsonObject(value: string, flag: string): ContainerConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `${flag} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new SlipwayError('INVALID_ARGUMENT', `${flag} must be a JSON object, e.g. {"User":"1000"}`);
  return parsed as ContainerConfig;
}
