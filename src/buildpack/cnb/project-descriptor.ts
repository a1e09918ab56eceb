import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import type { InlineBuildpack } from './inline-buildpack.js';
import { optionalString, parseToml, stringList, table, tables, type TomlTable } from './toml.js';

/** What `project.toml` asks of a build, whichever schema it is written in. */
export interface ProjectDescriptor {
  schema: '0.1' | '0.2' | '0.3';
  /**
   * The group, in order: as the --buildpack flag takes them (ID[@VERSION], a path made
   * absolute, an http(s):// URL), or an inline buildpack (id + `[...script]`).
   */
  buildpacks: (string | InlineBuildpack)[];
  /** Build env, KEY=VALUE. */
  env: string[];
  include?: string[];
  exclude?: string[];
  builder?: string;
  /** `[_] name`/`[project] name`, used as the image name when none is given. */
  name?: string;
  /** io.buildpacks.project.metadata, as pack writes it from a declared version or source-url. */
  projectMetadata: Record<string, unknown>;
  warnings: string[];
}

/**
 * Reads `<app>/project.toml` as pack does (extensions/project-descriptor.md schema 0.2;
 * 0.1 when `[_] schema-version` is absent, and pack's 0.3); undefined when there is none.
 */
export function readProjectDescriptor(appDir: string): ProjectDescriptor | undefined {
  const file = join(appDir, 'project.toml');
  if (!existsSync(file)) return undefined;
  return parseProjectDescriptor(readFileSync(file, 'utf8'), appDir);
}

export function parseProjectDescriptor(text: string, appDir: string): ProjectDescriptor {
  const doc = parseToml(text, 'project.toml');
  const head = table(doc['_'], 'project.toml [_]');
  const declared = optionalString(head['schema-version'], 'project.toml _.schema-version');
  const warnings: string[] = [];
  if (declared === undefined) warnings.push('project.toml has no [_] schema-version: read as schema 0.1');
  const schema = declared ?? '0.1';
  if (schema !== '0.1' && schema !== '0.2' && schema !== '0.3')
    throw new SlipwayError('UNSUPPORTED', `project.toml schema-version "${schema}" is not supported (0.1, 0.2, 0.3)`);
  const io = table(table(doc['io'], 'project.toml [io]')['buildpacks'], 'project.toml [io.buildpacks]');
  const build = schema === '0.1' ? table(doc['build'], 'project.toml [build]') : io;
  const project = schema === '0.1' ? table(doc['project'], 'project.toml [project]') : head;
  const groupEntries =
    schema === '0.1' ? tables(build['buildpacks'], 'build.buildpacks') : tables(io['group'], 'io.buildpacks.group');
  const buildpacks = groupEntries.map((g, i) => buildpackSpec(g, i, appDir));
  const envEntries =
    schema === '0.1'
      ? tables(build['env'], 'build.env')
      : [
          ...tables(table(io['build'], 'io.buildpacks.build')['env'], 'io.buildpacks.build.env'),
          ...tables(table(io['env'], 'io.buildpacks.env')['build'], 'io.buildpacks.env.build'),
        ];
  const env = envEntries.map((e, i) => {
    const name = optionalString(e['name'], `build env[${i}].name`);
    const value = optionalString(e['value'], `build env[${i}].value`) ?? '';
    if (!name) throw new SlipwayError('INVALID_DOCUMENT', `project.toml: build env[${i}] has no name`);
    return `${name}=${value}`;
  });
  const include = stringList(build['include'], 'include');
  const exclude = stringList(build['exclude'], 'exclude');
  if (include && exclude)
    throw new SlipwayError('INVALID_DOCUMENT', 'project.toml: include and exclude cannot both be set');
  const builder = optionalString(build['builder'], 'builder');
  const name = optionalString(project['name'], 'name');
  const version = optionalString(project['version'], 'version');
  const sourceUrl = optionalString(project['source-url'], 'source-url');
  const projectMetadata =
    version || sourceUrl
      ? { source: { type: 'project', version: { declared: version ?? '' }, metadata: { url: sourceUrl ?? '' } } }
      : {};
  return {
    schema,
    buildpacks,
    env,
    warnings,
    projectMetadata,
    ...(include ? { include } : {}),
    ...(exclude ? { exclude } : {}),
    ...(builder ? { builder } : {}),
    ...(name ? { name } : {}),
  };
}

function buildpackSpec(g: TomlTable, i: number, appDir: string): string | InlineBuildpack {
  const id = optionalString(g['id'], `buildpack[${i}].id`);
  const version = optionalString(g['version'], `buildpack[${i}].version`);
  const uri = optionalString(g['uri'], `buildpack[${i}].uri`);
  const script = table(g['script'], `buildpack[${i}].script`);
  const inline = optionalString(script['inline'], `buildpack[${i}].script.inline`);
  if (uri && version)
    throw new SlipwayError('INVALID_DOCUMENT', `project.toml: buildpack[${i}] has both uri and version`);
  // pack's getBuildpackLocator: an id with an inline script (and no uri) is an inline buildpack.
  if (id && inline && !uri) {
    const api = optionalString(script['api'], `buildpack[${i}].script.api`);
    if (!api)
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `project.toml: inline buildpack ${id} has no script.api (the Buildpack API its script follows, e.g. "0.10")`,
        { detail: { id } },
      );
    const shell = optionalString(script['shell'], `buildpack[${i}].script.shell`) || '/bin/sh';
    return { kind: 'inline', id, version: version || '0.0.0', api, shell, inline };
  }
  if (uri) {
    // URLs and buildpackage images are fetched by the build; a relative path is the app's.
    if (/^(https?|docker):\/\//.test(uri)) return uri;
    if (/^[a-z][a-z0-9+.-]*:/i.test(uri) && !uri.startsWith('file://')) {
      throw new SlipwayError(
        'UNSUPPORTED',
        `project.toml: buildpack uri "${uri}": use a path, a file://, an http(s):// URL of a .tgz or a docker:// image`,
        { detail: { uri } },
      );
    }
    return resolve(appDir, uri.replace(/^file:\/\//, ''));
  }
  if (!id) throw new SlipwayError('INVALID_DOCUMENT', `project.toml: buildpack[${i}] needs an id or a uri`);
  return version ? `${id}@${version}` : id;
}

/**
 * A filter for workspace paths from include/exclude (.gitignore syntax: a pattern with
 * no "/" but a trailing one matches a name at any depth; "*" stays in a segment, "**"
 * crosses segments). Excluded paths go with what is under them; with include, files
 * that match nothing are left out (directories stay).
 */
export function pathFilter(
  include: string[] | undefined,
  exclude: string[] | undefined,
): ((rel: string, isDir: boolean) => boolean) | undefined {
  const compile = (patterns: string[]) => patterns.filter((p) => p.trim() && !p.startsWith('#')).map(gitignorePattern);
  if (exclude) {
    const res = compile(exclude);
    return (rel) => !ancestors(rel).some((a) => res.some((re) => re.test(a)));
  }
  if (include) {
    const res = compile(include);
    return (rel, isDir) => isDir || ancestors(rel).some((a) => res.some((re) => re.test(a)));
  }
  return undefined;
}

function ancestors(rel: string): string[] {
  const parts = rel.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

function gitignorePattern(pattern: string): RegExp {
  let p = pattern.trim().replace(/\/+$/, '');
  const anchored = p.startsWith('/') || p.includes('/');
  p = p.replace(/^\/+/, '');
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*' && p[i + 1] === '*') {
      out += '.*';
      i++;
      if (p[i + 1] === '/') i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(anchored ? `^${out}$` : `(^|/)${out}$`);
}
