import type { TreeReader } from '../tree-reader.js';

/** Variables that hold search paths; layer subdirectories and user values are prepended to them. */
export const PATH_VARIABLES: Record<string, string[]> = {
  bin: ['PATH'],
  lib: ['LD_LIBRARY_PATH', 'LIBRARY_PATH'],
  include: ['CPATH'],
  pkgconfig: ['PKG_CONFIG_PATH'],
};
const PATH_LIKE = new Set(['PATH', 'LD_LIBRARY_PATH', 'LIBRARY_PATH', 'CPATH', 'PKG_CONFIG_PATH']);

export type EnvAction = 'override' | 'default' | 'prepend' | 'append';

/**
 * An environment being assembled as the buildpack spec's "Environment" section says:
 * env files are `NAME[.action]` with the contents verbatim; `NAME.delim` sets the
 * delimiter for NAME's append/prepend in the same directory (else ":").
 */
export class BuildEnv {
  readonly vars = new Map<string, string>();

  constructor(initial: Record<string, string> | string[] = {}) {
    const pairs = Array.isArray(initial)
      ? initial.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const)
      : Object.entries(initial);
    for (const [k, v] of pairs) this.vars.set(k, v);
  }

  clone(): BuildEnv {
    const out = new BuildEnv();
    for (const [k, v] of this.vars) out.vars.set(k, v);
    return out;
  }

  apply(name: string, action: EnvAction, value: string, delim = ':'): void {
    const old = this.vars.get(name);
    switch (action) {
      case 'override':
        this.vars.set(name, value);
        break;
      case 'default':
        if (old === undefined || old === '') this.vars.set(name, value);
        break;
      case 'prepend':
        this.vars.set(name, old ? `${value}${delim}${old}` : value);
        break;
      case 'append':
        this.vars.set(name, old ? `${old}${delim}${value}` : value);
        break;
    }
  }

  /** Prepends a layer's bin/, lib/, include/, pkgconfig/ (those that are directories in `tree` at `layer`) to the path variables. */
  addLayerPaths(tree: TreeReader, layer: string, containerLayer: string): void {
    for (const [sub, names] of Object.entries(PATH_VARIABLES)) {
      if (!tree.lstat(`${layer}/${sub}`)?.isDirectory()) continue;
      for (const name of names) this.apply(name, 'prepend', `${containerLayer}/${sub}`);
    }
  }

  /** Applies every env file of the directory `dir` of `tree` (sorted by name); `defaultAction` is for files without a suffix. */
  applyDir(tree: TreeReader, dir: string, defaultAction: EnvAction = 'override'): void {
    const files = regularFiles(tree, dir);
    const delims = new Map<string, string>();
    for (const f of files)
      if (f.endsWith('.delim')) delims.set(f.slice(0, -'.delim'.length), tree.readText(`${dir}/${f}`) ?? ':');
    for (const f of files) {
      const dot = f.indexOf('.');
      const name = dot < 0 ? f : f.slice(0, dot);
      const suffix = dot < 0 ? '' : f.slice(dot + 1);
      if (suffix === 'delim' || !name) continue;
      const action: EnvAction | undefined =
        suffix === ''
          ? defaultAction
          : (['override', 'default', 'prepend', 'append'] as const).find((a) => a === suffix);
      if (!action) continue;
      this.apply(name, action, tree.readText(`${dir}/${f}`) ?? '', delims.get(name) ?? ':');
    }
  }

  /** User env from <platform>/env (the directory `dir` of `tree`): path variables prepended, the rest overriding. */
  applyPlatformEnv(tree: TreeReader, dir: string): void {
    for (const f of regularFiles(tree, dir)) {
      this.apply(f, PATH_LIKE.has(f) ? 'prepend' : 'override', tree.readText(`${dir}/${f}`) ?? '');
    }
  }

  toList(): string[] {
    return [...this.vars].map(([k, v]) => `${k}=${v}`);
  }
}

/** The regular files of a directory (links and anything else are not env files), sorted. */
function regularFiles(tree: TreeReader, dir: string): string[] {
  return (tree.readdir(dir) ?? []).filter((f) => tree.lstat(`${dir}/${f}`)?.isFile());
}
