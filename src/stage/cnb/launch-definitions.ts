import { escapeId } from '../../buildpack/cnb/buildpack-descriptor.js';
import type { LaunchProcess } from '../../buildpack/cnb/layer-files.js';
import { quote } from '../../sandbox/build-session.js';

/**
 * The process table the POSIX launcher sources (`/layers/config/slipway-launch.sh`):
 * the same facts as metadata.toml, in a form /bin/sh reads without a TOML parser.
 */
export function launchDefinitions(
  buildpackIds: string[],
  processes: LaunchProcess[],
  defaultProcess: string | undefined,
): string {
  const cases = processes.map((p) => {
    const words = (list: string[]) => quote(list.map(quote).join(' '));
    return `    ${quote(p.type)}) proc_cmd=${words(p.command)}; proc_args=${words(p.args)}; proc_direct=${p.direct ? 1 : 0}; proc_dir=${quote(p.workingDir ?? '')} ;;`;
  });
  return [
    '# Written by slipway build: the process types of this image, for /cnb/lifecycle/launcher.',
    `SLIPWAY_BUILDPACKS=${quote(buildpackIds.map(escapeId).join(' '))}`,
    `SLIPWAY_DEFAULT_PROCESS=${quote(defaultProcess ?? '')}`,
    'slipway_process() {',
    '  case "$1" in',
    ...cases,
    '    *) return 1 ;;',
    '  esac',
    '}',
    '',
  ].join('\n');
}
