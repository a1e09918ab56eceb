#!/bin/sh
# Slipway's CNB launcher (platform.md "launcher"): a POSIX shell script, so any run
# image with /bin/sh can start buildpack-built apps. It
#   1. picks the process: by the name it was started as (/cnb/process/TYPE), by a
#      process type given as first argument or in CNB_PROCESS_TYPE, else the default;
#      `launcher -- CMD ARGS` runs CMD directly, `launcher CMD ARGS` through the shell;
#   2. applies the launch env of every buildpack's layers (bin/ and lib/ on the paths,
#      env/ then env.launch/ then env.launch/TYPE/ files with their suffix actions);
#   3. runs exec.d programs (best effort: TOML `NAME = "value"` lines on fd 3);
#   4. for shell processes only, sources profile.d scripts and <app>/.profile;
#   5. changes to the working directory and execs the command.
# Exit codes 80-89 are the launcher's own, as the platform spec reserves.
set -u
LC_ALL=C
export LC_ALL
layers=${CNB_LAYERS_DIR:-/layers}
app=${CNB_APP_DIR:-/workspace}
defs="$layers/config/slipway-launch.sh"
[ -r "$defs" ] || { echo "launcher: $defs is missing (was the image built by slipway build?)" >&2; exit 82; }
# Defines SLIPWAY_BUILDPACKS (escaped ids, group order), SLIPWAY_DEFAULT_PROCESS and
# slipway_process TYPE, which sets proc_cmd, proc_args (quoted words), proc_direct, proc_dir.
. "$defs"

proc_type=""
direct=""
self=${0##*/}
if [ "$self" != launcher ] && slipway_process "$self"; then
  proc_type=$self
elif [ "${1-}" = "--" ]; then
  shift
  [ $# -gt 0 ] || { echo "launcher: no command after --" >&2; exit 80; }
  direct=1
elif [ $# -gt 0 ] && slipway_process "$1"; then
  proc_type=$1
  shift
elif [ $# -gt 0 ]; then
  direct=0
elif [ -n "${CNB_PROCESS_TYPE-}" ]; then
  slipway_process "$CNB_PROCESS_TYPE" || { echo "launcher: no process type \"$CNB_PROCESS_TYPE\"" >&2; exit 80; }
  proc_type=$CNB_PROCESS_TYPE
elif [ -n "$SLIPWAY_DEFAULT_PROCESS" ]; then
  slipway_process "$SLIPWAY_DEFAULT_PROCESS"
  proc_type=$SLIPWAY_DEFAULT_PROCESS
else
  echo "launcher: the image has no default process; give a process type or a command" >&2
  exit 80
fi

# Applies the env files of directory $1 (the action of a file without suffix is override).
apply_env_dir() {
  [ -d "$1" ] || return 0
  for f in "$1"/*; do
    [ -f "$f" ] || continue
    base=${f##*/}
    name=${base%%.*}
    case "$base" in
      *.*) action=${base#*.} ;;
      *) action=override ;;
    esac
    case "$name" in ''|*[!A-Za-z0-9_]*|[0-9]*) continue ;; esac
    [ "$action" = delim ] && continue
    value=$(cat "$f"; printf x)
    value=${value%x}
    delim=:
    if [ -f "$1/$name.delim" ]; then delim=$(cat "$1/$name.delim"; printf x); delim=${delim%x}; fi
    eval "old=\${$name-}"
    case "$action" in
      override) new=$value ;;
      default) [ -n "$old" ] && continue; new=$value ;;
      prepend) if [ -n "$old" ]; then new="$value$delim$old"; else new=$value; fi ;;
      append) if [ -n "$old" ]; then new="$old$delim$value"; else new=$value; fi ;;
      *) continue ;;
    esac
    export "$name=$new"
  done
}

prepend_path() {
  eval "old=\${$1-}"
  if [ -n "$old" ]; then export "$1=$2:$old"; else export "$1=$2"; fi
}

# /cnb/process leaves PATH first: a command named like a process type (pwd, web)
# must find the real program, not this launcher again.
case ":${PATH-}:" in
  *:/cnb/process:*) PATH=$(printf '%s' ":$PATH:" | sed 's#:/cnb/process:#:#g; s#^:##; s#:$##') ;;
esac
export PATH

# 1. Launch env, buildpacks in group order, layers by name.
for bp in $SLIPWAY_BUILDPACKS; do
  for layer in "$layers/$bp"/*; do
    [ -d "$layer" ] || continue
    [ -d "$layer/bin" ] && prepend_path PATH "$layer/bin"
    [ -d "$layer/lib" ] && prepend_path LD_LIBRARY_PATH "$layer/lib"
    apply_env_dir "$layer/env"
    apply_env_dir "$layer/env.launch"
    [ -n "$proc_type" ] && apply_env_dir "$layer/env.launch/$proc_type"
  done
done

# 2. exec.d: each program writes TOML assignments to fd 3; simple string values are taken.
run_exec_d() {
  [ -d "$1" ] || return 0
  for x in "$1"/*; do
    [ -f "$x" ] && [ -x "$x" ] || continue
    out=$("$x" 3>&1 1>&2) || { echo "launcher: exec.d $x failed" >&2; exit 83; }
    eval "$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=[[:space:]]*"\(\([^"\\]\|\\.\)*\)"[[:space:]]*$/\1 \2/p' | while read -r k v; do
      v=$(printf '%s' "$v" | sed 's/\\"/"/g; s/\\\\/\\/g')
      printf 'export %s=%s\n' "$k" "'$(printf '%s' "$v" | sed "s/'/'\\\\''/g")'"
    done)"
  done
}
for bp in $SLIPWAY_BUILDPACKS; do
  for layer in "$layers/$bp"/*; do
    [ -d "$layer" ] || continue
    run_exec_d "$layer/exec.d"
    [ -n "$proc_type" ] && run_exec_d "$layer/exec.d/$proc_type"
  done
done

# The process does not see the platform's own variables.
unset CNB_APP_DIR CNB_LAYERS_DIR CNB_PROCESS_TYPE

if [ -n "$proc_type" ]; then
  cd "${proc_dir:-$app}" || exit 81
  if [ $# -gt 0 ]; then user_args=1; else user_args=0; fi
  if [ "$proc_direct" = 1 ]; then
    if [ "$user_args" = 1 ]; then eval "set -- $proc_cmd \"\$@\""; else eval "set -- $proc_cmd $proc_args"; fi
    exec "$@"
  fi
  [ "$user_args" = 1 ] || eval "set -- $proc_args"
  direct=0
  eval "set -- $proc_cmd \"\$@\""
  cmd=$1
  shift
else
  cd "$app" || exit 81
fi

if [ "$direct" = 1 ]; then
  exec "$@"
fi

# 3. Shell processes: profile.d scripts, then the app's .profile, in this shell.
[ -n "${cmd-}" ] || { cmd=$1; shift; }
for bp in $SLIPWAY_BUILDPACKS; do
  for layer in "$layers/$bp"/*; do
    for p in "$layer/profile.d"/*; do [ -f "$p" ] && . "$p"; done
    if [ -n "$proc_type" ]; then for p in "$layer/profile.d/$proc_type"/*; do [ -f "$p" ] && . "$p"; done; fi
  done
done
[ -f "$app/.profile" ] && . "$app/.profile"
eval "exec $cmd \"\$@\""
