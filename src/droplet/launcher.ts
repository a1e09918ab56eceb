import { CF_PROCESS_DIR, DROPLET_ROOT } from './layout.js';

/**
 * The droplet launcher, a POSIX shell script doing what CF's launcher
 * (buildpackapplifecycle launcher/launcher_unix.go) does: HOME=/home/vcap/app,
 * TMPDIR=/home/vcap/tmp, DEPS_DIR=/home/vcap/deps, PORT (default 8080), LANG (see
 * LANG_DEFAULT_SH),
 * VCAP_APP_PORT/HOST, a VCAP_APPLICATION when the platform gives none; then in the
 * app dir it sources every file of ../profile.d, then .profile.d, then .profile, and
 * execs `bash -c COMMAND` (`sh -c` where the image has no bash). It re-execs itself
 * under bash when there is one, because CF sources profile scripts with bash and
 * buildpacks write bash in them.
 *
 * The command: `launcher TYPE` runs process type TYPE (a file in /cf/process),
 * `launcher CMD...` runs CMD as a shell command line, no argument runs `web` (the
 * staging_info.yml start command). Exit 1 when there is none, as CF's launcher.
 */
/**
 * Sets LANG where it is unset: en_US.UTF-8 as CF's launcher and stager do, when the
 * image has that locale (cflinuxfs4 generates it; a locale-archive holds it), else
 * C.UTF-8, which glibc ships in every Debian image. Debian stacks have no en_US
 * locale, and perl (debconf, apt's scripts, a perl app) warns at every start when LANG
 * names a locale that is not there; C.UTF-8 is the same UTF-8 without the warning,
 * and the stack needs no `locales` package or regeneration.
 */
export const LANG_DEFAULT_SH =
  'if [ -z "${LANG-}" ]; then if [ -e /usr/lib/locale/locale-archive ] || [ -d /usr/lib/locale/en_US.utf8 ]; then LANG=en_US.UTF-8; else LANG=C.UTF-8; fi; fi; export LANG';

export const LAUNCHER_SCRIPT = `#!/bin/sh
# Slipway's Cloud Foundry launcher (see src/droplet/launcher.ts).
if [ -z "\${BASH_VERSION-}" ] && [ -z "\${SLIPWAY_CF_LAUNCHER_SH-}" ] && command -v bash >/dev/null 2>&1; then
  SLIPWAY_CF_LAUNCHER_SH=1 exec bash "$0" "$@"
fi
unset SLIPWAY_CF_LAUNCHER_SH
procs=${CF_PROCESS_DIR}
droplet=${DROPLET_ROOT}
command=
case "\${1-}" in
  --) shift; command="$*" ;;
  ''|*/*|.*) command="$*" ;;
  *) if [ $# -eq 1 ] && [ -f "$procs/$1" ]; then command=$(cat "$procs/$1"); else command="$*"; fi ;;
esac
if [ -z "$command" ] && [ -f "$procs/web" ]; then command=$(cat "$procs/web"); fi
if [ -z "$command" ]; then
  echo "launcher: no start command specified or detected in droplet" >&2
  exit 1
fi
export HOME="$droplet/app" TMPDIR="$droplet/tmp" DEPS_DIR="$droplet/deps"
export PORT="\${PORT:-8080}"
export VCAP_APP_PORT="\${VCAP_APP_PORT:-$PORT}" VCAP_APP_HOST="\${VCAP_APP_HOST:-0.0.0.0}"
${LANG_DEFAULT_SH}
export MEMORY_LIMIT="\${MEMORY_LIMIT:-1024m}"
export USER="\${USER:-$(id -un 2>/dev/null || echo vcap)}"
export INSTANCE_INDEX="\${INSTANCE_INDEX:-0}" CF_INSTANCE_INDEX="\${CF_INSTANCE_INDEX:-0}"
if [ -z "\${VCAP_APPLICATION-}" ]; then
  VCAP_APPLICATION="{\\"application_name\\":\\"app\\",\\"name\\":\\"app\\",\\"host\\":\\"0.0.0.0\\",\\"port\\":$PORT,\\"instance_index\\":$INSTANCE_INDEX,\\"limits\\":{\\"mem\\":\${MEMORY_LIMIT%m},\\"disk\\":1024,\\"fds\\":16384},\\"application_uris\\":[],\\"uris\\":[]}"
  export VCAP_APPLICATION
fi
unset VCAP_PLATFORM_OPTIONS
cd "$HOME" || exit 4
echo 'Invoking pre-start scripts.'
for env_file in ../profile.d/*; do
  [ -f "$env_file" ] && . "$env_file"
done
for env_file in .profile.d/*; do
  [ -f "$env_file" ] && . "$env_file"
done
if [ -f .profile ]; then . ./.profile; fi
echo 'Invoking start command.'
if [ -n "\${BASH_VERSION-}" ]; then exec bash -c "$command"; fi
exec /bin/sh -c "$command"
`;
