import { Command } from 'commander';
import { SlipwayError } from '../../errors.js';
import {
  createStack,
  diffStackVersions,
  formatDiff,
  inspectStack,
  listStacks,
  parseUser,
  removeStack,
  updateStack,
  type StackReport,
  type StackSource,
  type VersionChanges,
} from '../../stack/index.js';
import { formatBytes, shortDigest, table } from '../format.js';
import type { LocalStore } from '../../store/local-store.js';
import { run } from '../run.js';

interface CreateOptions {
  debian?: string;
  mirror?: string;
  runPackages?: string;
  buildPackages?: string;
  fromRootfs?: string;
  fromImage?: string;
  user?: string;
  stackId?: string;
  refresh?: boolean;
}

interface UpdateOptions {
  runPackages?: string;
  buildPackages?: string;
  removePackages?: string;
  refresh?: boolean;
}

export function stackCommand(): Command {
  const stack = new Command('stack')
    .description('Make, version and patch stacks: the build image staging runs in and the run image apps run on')
    .addHelpText(
      'after',
      `
A stack NAME is the images NAME/build and NAME/run in the local store, each version
tagged with a number on both, and "latest" on the newest.

Examples:
  $ slipway stack create default
  $ slipway stack create gmp --debian bookworm --run-packages libgmp10 --build-packages libgmp-dev
  $ slipway stack update default
  $ slipway stack inspect default`,
    );

  stack.addCommand(
    new Command('create')
      .description('Make a stack (a new version of it) from Debian packages (mmdebstrap), rootfs tarballs or images')
      .argument('<name>', 'the stack name (lowercase, e.g. default)')
      .option('--debian <suite>', 'Debian suite to bootstrap (default: bookworm)')
      .option('--mirror <url>', 'Debian mirror (default: $SLIPWAY_DEBIAN_MIRROR or http://deb.debian.org/debian)')
      .option(
        '--run-packages <p,...>',
        'packages for the run image (and so the build image) beyond ca-certificates, tzdata',
      )
      .option('--build-packages <p,...>', 'packages for the build image beyond build-essential, git, curl, jq')
      .option('--from-rootfs <build,run>', 'bring your own: two rootfs tarballs (tar, tar.gz, tar.zst) or directories')
      .option(
        '--from-image <build,run>',
        'bring your own: two images Slipway can read (NAME:TAG, oci:DIR:REF, oci-archive:, docker-archive:, docker://)',
      )
      .option('--user <name:uid:gid>', 'the user buildpacks and apps run as (default cnb:1000:1000)')
      .option('--stack-id <id>', 'io.buildpacks.stack.id of both images (default io.slipway.stacks.NAME)')
      .option('--refresh', 'bootstrap again even when an identical stack is cached')
      .addHelpText(
        'after',
        `
An identical stack (same suite, mirror state, packages and user) is taken from the
stack cache ($SLIPWAY_STACK_CACHE, /var/cache/slipway/stacks as root) without running
mmdebstrap, and makes no new version when the store already has it.

Examples:
  $ slipway stack create default
  $ slipway stack create gmp --debian bookworm --run-packages libgmp10 --build-packages libgmp-dev --user app:2000:2000
  $ slipway stack create mine --from-rootfs build.tar,run.tar
  $ slipway stack create paketo --from-image oci:/tmp/build:latest,oci:/tmp/run:latest`,
      )
      .action(
        run(async (ctx, name: string, opts: CreateOptions) => {
          const report = await createStack(await ctx.store(), name, {
            source: sourceOf(opts),
            ...(opts.user ? { user: parseUser(opts.user) } : {}),
            ...(opts.stackId ? { stackId: opts.stackId } : {}),
            ...(opts.refresh ? { refresh: true } : {}),
            progress: ctx.progress(),
          });
          ctx.print(report, () => reportText(report, 'create'));
        }),
      ),
  );

  stack.addCommand(
    new Command('update')
      .description("Re-run a stack's packages against the mirror now; a new version only when a package changed")
      .argument('<name>', 'the stack name')
      .option('--run-packages <p,...>', 'add packages to the run image (and the build image)')
      .option('--build-packages <p,...>', 'add packages to the build image')
      .option('--remove-packages <p,...>', "take packages out of the stack's request")
      .option('--refresh', 'bootstrap again even when the mirror state is unchanged')
      .option('--rebase', 'then rebase every image in the store built on an older version of the run image')
      .addHelpText(
        'after',
        `
Prints the packages that changed (+ added, - removed, ~ new version) and, when the
vulnerability database has advisories (slipway vulndb import), the CVEs the new version
fixes in the store's images once they are rebased (--json: cvesFixed).

Examples:
  $ slipway stack update default
  $ slipway stack update default --build-packages libgmp-dev
  $ slipway stack update default --rebase          # patch the stack, then every app on it
  $ slipway stack update default --remove-packages libgmp-dev --json`,
      )
      .action(
        run(async (ctx, name: string, opts: UpdateOptions & { rebase?: boolean }) => {
          const update = {
            ...(opts.runPackages ? { runPackages: [opts.runPackages] } : {}),
            ...(opts.buildPackages ? { buildPackages: [opts.buildPackages] } : {}),
            ...(opts.removePackages ? { removePackages: [opts.removePackages] } : {}),
            ...(opts.refresh ? { refresh: true } : {}),
            progress: ctx.progress(),
          };
          if (!opts.rebase) {
            const report = await updateStack(await ctx.store(), name, update);
            const { fixesOfStackVersion } = await import('../../vuln/stack-fixes.js');
            const { fixesText } = await import('./scan.js');
            const cves = report.newVersion
              ? await fixesOfStackVersion(await ctx.store(), name, report.version)
              : undefined;
            ctx.print(cves ? { ...report, cvesFixed: cves } : report, () =>
              [reportText(report, 'update'), ...(cves ? [fixesText(name, report.version, cves)] : [])].join('\n'),
            );
            return;
          }
          const { updateStackAndRebase } = await import('../../rebase/stack-update.js');
          const { fleetText } = await import('./rebase.js');
          const both = await updateStackAndRebase(await ctx.store(), name, update);
          ctx.print(both, () => `${reportText(both.stack, 'update')}\n${fleetText(both.rebase)}`);
        }),
      ),
  );

  stack.addCommand(
    new Command('ls')
      .alias('list')
      .description('List the stacks in the local store')
      .addHelpText(
        'after',
        `
Example:
  $ slipway stack ls --json | jq -r '.[].name'`,
      )
      .action(
        run(async (ctx) => {
          const stacks = await listStacks(await ctx.store());
          ctx.print(stacks, () =>
            table(
              ['NAME', 'VERSION', 'DISTRO', 'RUN', 'RUN SIZE', 'BUILD', 'BUILD SIZE'],
              stacks.map((s) => [
                s.name,
                s.latest,
                s.distro ?? '-',
                shortDigest(s.run.digest),
                formatBytes(s.run.layerSize),
                shortDigest(s.build.digest),
                formatBytes(s.build.layerSize),
              ]),
            ),
          );
        }),
      ),
  );

  stack.addCommand(
    new Command('inspect')
      .description('Show a stack: versions, digests, sizes, and the packages each version changed')
      .argument('<name>', 'the stack name')
      .option('--diff <from,to>', 'only the package differences between two versions (e.g. 1,latest)')
      .addHelpText(
        'after',
        `
Examples:
  $ slipway stack inspect default
  $ slipway stack inspect default --diff 1,2
  $ slipway stack inspect default --json | jq '.changes[-1].build'`,
      )
      .action(
        run(async (ctx, name: string, opts: { diff?: string }) => {
          const store = await ctx.store();
          if (opts.diff) {
            const [from, to] = opts.diff.split(',');
            if (!from || !to)
              throw new SlipwayError('INVALID_ARGUMENT', `--diff "${opts.diff}" must be FROM,TO, e.g. 1,2 or 1,latest`);
            await requireStack(store, name);
            const changes = await diffStackVersions(store, name, from, to);
            ctx.print(changes, () => changesText(changes));
            return;
          }
          await requireStack(store, name);
          const s = await inspectStack(store, name);
          ctx.print(s, () =>
            [
              `Stack:     ${s.name} (${s.stackId})`,
              `Distro:    ${[s.distro?.name, s.distro?.version].filter(Boolean).join(' ') || '-'}`,
              `Source:    ${s.request ? sourceText(s.request) : '-'}`,
              `User:      ${s.request ? `${s.request.user.name} ${s.request.user.uid}:${s.request.user.gid}` : '-'}`,
              `Latest:    ${s.latest}`,
              '',
              table(
                ['VERSION', 'RECORDED', 'RUN', 'RUN SIZE', 'PKGS', 'BUILD', 'BUILD SIZE', 'PKGS'],
                s.versions.map((v) => [
                  v.version,
                  v.recorded.replace(/\.\d+Z$/, 'Z'),
                  shortDigest(v.run.digest),
                  formatBytes(v.run.layerSize),
                  String(v.run.packages),
                  shortDigest(v.build.digest),
                  formatBytes(v.build.layerSize),
                  String(v.build.packages),
                ]),
              ),
              ...s.changes.map((c) => `\n${changesText(c)}`),
            ].join('\n'),
          );
        }),
      ),
  );

  stack.addCommand(
    new Command('rm')
      .description('Remove a stack, every version of both images (blobs go at the next gc)')
      .argument('<name>', 'the stack name')
      .addHelpText(
        'after',
        `
Example:
  $ slipway stack rm gmp && slipway gc`,
      )
      .action(
        run(async (ctx, name: string) => {
          const report = await removeStack(await ctx.store(), name);
          ctx.print(
            report,
            () => `Removed stack ${name}: ${report.untagged.length} tags, ${report.deleted.length} manifests`,
          );
        }),
      ),
  );
  return stack;
}

function sourceOf(opts: CreateOptions): StackSource {
  const chosen = [
    opts.fromRootfs && '--from-rootfs',
    opts.fromImage && '--from-image',
    (opts.debian || opts.mirror || opts.runPackages || opts.buildPackages) && '--debian/--mirror/--*-packages',
  ].filter(Boolean);
  if (chosen.length > 1)
    throw new SlipwayError('INVALID_ARGUMENT', `choose one source for the stack, not ${chosen.join(' and ')}`);
  const pair = (value: string, flag: string) => {
    const parts = value.split(',');
    if (parts.length !== 2 || !parts[0] || !parts[1])
      throw new SlipwayError('INVALID_ARGUMENT', `${flag} "${value}" must be BUILD,RUN (the build image first)`);
    return { build: parts[0], run: parts[1] };
  };
  if (opts.fromRootfs) return { kind: 'rootfs', ...pair(opts.fromRootfs, '--from-rootfs') };
  if (opts.fromImage) return { kind: 'image', ...pair(opts.fromImage, '--from-image') };
  return {
    kind: 'debian',
    ...(opts.debian ? { suite: opts.debian } : {}),
    ...(opts.mirror ? { mirror: opts.mirror } : {}),
    ...(opts.runPackages ? { runPackages: [opts.runPackages] } : {}),
    ...(opts.buildPackages ? { buildPackages: [opts.buildPackages] } : {}),
  };
}

function sourceText(r: StackReport['request']): string {
  if (r.source === 'debian') {
    const extra = [
      r.runPackages.length ? `run +${r.runPackages.join(',')}` : '',
      r.buildPackages.length ? `build +${r.buildPackages.join(',')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    return `debian ${r.suite} from ${r.mirror}${extra ? ` (${extra})` : ''}`;
  }
  return `${r.source}: build ${r.build}, run ${r.run}`;
}

function reportText(r: StackReport, mode: 'create' | 'update'): string {
  const cached = (c: boolean) => (c ? ' (cached)' : '');
  const head = r.newVersion
    ? `${mode === 'create' && !r.previous ? 'Created' : 'Made'} stack ${r.name} version ${r.version}${r.previous ? ` (was ${r.previous})` : ''}`
    : `Stack ${r.name} is unchanged at version ${r.version}${mode === 'update' ? ': no package changed' : ''}`;
  const lines = [
    head,
    `  run:   ${r.name}/run:${r.version}   ${r.run.digest}   ${formatBytes(r.run.layerSize)}, ${r.run.packages} packages${cached(r.run.cached)}`,
    `  build: ${r.name}/build:${r.version} ${r.build.digest}   ${formatBytes(r.build.layerSize)}, ${r.build.packages} packages${cached(r.build.cached)}`,
  ];
  if (r.previous && r.newVersion) {
    for (const role of ['run', 'build'] as const) {
      const d = formatDiff(r.changes[role]);
      lines.push(`Changed in the ${role} image: ${d.length ? '' : 'nothing'}`, ...d.map((l) => `  ${l}`));
    }
  }
  return lines.join('\n');
}

function changesText(c: VersionChanges): string {
  const lines = [`Changes ${c.from} -> ${c.to}:`];
  for (const role of ['run', 'build'] as const) {
    const d = formatDiff(c[role]);
    lines.push(`  ${role} image: ${d.length ? '' : 'no package changed'}`, ...d.map((l) => `    ${l}`));
  }
  return lines.join('\n');
}

/** A stack that does not exist is named as one, with the command that lists those there are. */
async function requireStack(store: LocalStore, name: string): Promise<void> {
  const stacks = await listStacks(store);
  if (stacks.some((s) => s.name === name)) return;
  const here = stacks.length ? ` (stacks here: ${stacks.map((s) => s.name).join(', ')})` : '';
  throw new SlipwayError('NOT_FOUND', `no stack named ${name}; see slipway stack ls${here}`, {
    detail: { stack: name },
  });
}
