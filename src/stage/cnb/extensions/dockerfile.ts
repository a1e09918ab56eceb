import { SlipwayError } from '../../../errors.js';

/** An instruction of an extension's Dockerfile that Slipway applies. */
export type Instruction =
  | { op: 'ARG'; name: string; default?: string; line: number }
  | { op: 'FROM'; image: string; line: number }
  | { op: 'RUN'; command: string[]; shell: boolean; line: number }
  | { op: 'USER'; user: string; line: number }
  | { op: 'COPY'; sources: string[]; dest: string; chown?: string; line: number }
  | { op: 'ENV'; pairs: [string, string][]; line: number }
  | { op: 'LABEL'; pairs: [string, string][]; line: number }
  | { op: 'WORKDIR'; path: string; line: number };

export type DockerfileKind = 'build' | 'run';

/** A parsed build.Dockerfile or run.Dockerfile. */
export interface ExtensionDockerfile {
  kind: DockerfileKind;
  extension: string;
  /** The instructions after FROM (ARGs before FROM are in `args`). */
  instructions: Instruction[];
  /** ARGs declared before FROM (in scope for FROM only, as in Docker, unless declared again). */
  preFromArgs: { name: string; default?: string }[];
  /** run.Dockerfile: the image a plain `FROM <image>` switches to; undefined when it extends ${base_image}. */
  switchTo?: string;
  /** Whether the text refers to the build_id arg (then its result is never reused: the spec's cache-busting). */
  usesBuildId: boolean;
  text: string;
}

/** Allowed by image_extension.md, not applied by Slipway yet: a clear error rather than a silent skip. */
const NOT_YET = new Set(['ADD', 'SHELL']);
const KNOWN = new Set(['ARG', 'FROM', 'RUN', 'USER', 'COPY', 'ENV', 'LABEL', 'WORKDIR']);

function fail(ext: string, kind: DockerfileKind, line: number, message: string, instruction?: string): SlipwayError {
  return new SlipwayError('UNSUPPORTED', `image extension ${ext}: ${kind}.Dockerfile line ${line}: ${message}`, {
    detail: {
      extension: ext,
      file: `${kind}.Dockerfile`,
      line,
      ...(instruction ? { instruction } : {}),
      exitCode: 102,
    },
  });
}

/**
 * Parses an extension's Dockerfile as image_extension.md allows it: `ARG` (build_id,
 * user_id, group_id and the extension's own), one `FROM` (`${base_image}` in a
 * build.Dockerfile; in a run.Dockerfile `${base_image}` to extend or an image to
 * switch to), then `RUN`, `USER`, `COPY` (from the extension's context), `ENV`,
 * `LABEL`, `WORKDIR`. Anything else is an error naming the extension, the file, the
 * line and the instruction.
 *
 * @example
 *   parseExtensionDockerfile('ARG base_image\nFROM ${base_image}\nRUN apt-get install -y libgmp-dev\n', 'build', 'x/gmp')
 */
export function parseExtensionDockerfile(text: string, kind: DockerfileKind, ext: string): ExtensionDockerfile {
  const instructions: Instruction[] = [];
  const preFromArgs: { name: string; default?: string }[] = [];
  let from: string | undefined;
  for (const { line, word, rest } of logicalLines(text)) {
    const op = word.toUpperCase();
    if (NOT_YET.has(op))
      throw fail(
        ext,
        kind,
        line,
        `${op} is allowed by the spec but Slipway does not apply it yet; use RUN or COPY`,
        op,
      );
    if (!KNOWN.has(op))
      throw fail(
        ext,
        kind,
        line,
        `${op} is not allowed in an image extension's Dockerfile (allowed: ARG, FROM, RUN, USER, COPY, ENV, LABEL, WORKDIR)`,
        op,
      );
    if (op === 'FROM') {
      if (from !== undefined) throw fail(ext, kind, line, 'a second FROM: an extension Dockerfile has one stage', op);
      const parts = rest.trim().split(/\s+/);
      if (parts.length !== 1 || !parts[0])
        throw fail(ext, kind, line, 'FROM takes one image (no AS, no --platform)', op);
      from = parts[0];
      continue;
    }
    if (from === undefined && op !== 'ARG')
      throw fail(
        ext,
        kind,
        line,
        `${op} before FROM: the file must begin with ARG base_image and FROM \${base_image}`,
        op,
      );
    const parsed = parseInstruction(op, rest, line, (m) => fail(ext, kind, line, m, op));
    if (from === undefined && parsed.op === 'ARG')
      preFromArgs.push({ name: parsed.name, ...(parsed.default !== undefined ? { default: parsed.default } : {}) });
    else instructions.push(parsed);
  }
  if (from === undefined)
    throw fail(ext, kind, 1, 'there is no FROM (begin with ARG base_image and FROM ${base_image})');
  const extendsBase = from === '${base_image}' || from === '$base_image';
  if (kind === 'build' && !extendsBase)
    throw fail(ext, kind, 1, `FROM ${from}: a build.Dockerfile must extend FROM \${base_image}`, 'FROM');
  if (extendsBase && !preFromArgs.some((a) => a.name === 'base_image'))
    throw fail(ext, kind, 1, 'FROM ${base_image} needs ARG base_image before it', 'ARG');
  const switchTo = extendsBase ? undefined : substitute(from, argDefaults(preFromArgs));
  return {
    kind,
    extension: ext,
    instructions,
    preFromArgs,
    ...(switchTo ? { switchTo } : {}),
    usesBuildId: /\$\{?build_id\b/.test(text),
    text,
  };
}

function argDefaults(args: { name: string; default?: string }[]): Record<string, string> {
  return Object.fromEntries(args.filter((a) => a.default !== undefined).map((a) => [a.name, a.default!]));
}

function parseInstruction(op: string, rest: string, line: number, error: (m: string) => SlipwayError): Instruction {
  const body = rest.trim();
  switch (op) {
    case 'ARG': {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$/.exec(body);
      if (!m) throw error(`ARG ${body}: one NAME or NAME=DEFAULT`);
      return { op, name: m[1]!, ...(m[2] !== undefined ? { default: unquote(m[2]) } : {}), line };
    }
    case 'RUN': {
      if (/^--/.test(body)) throw error(`RUN ${body.split(/\s/)[0]}: RUN flags (--mount, --network) are not supported`);
      if (body.includes('<<')) throw error('RUN with a heredoc is not supported; write the commands on the line');
      const json = jsonArray(body);
      return json ? { op, command: json, shell: false, line } : { op, command: [body], shell: true, line };
    }
    case 'USER':
      if (!body || /\s/.test(body)) throw error(`USER ${body}: one USER[:GROUP]`);
      return { op, user: body, line };
    case 'WORKDIR':
      if (!body) throw error('WORKDIR needs a path');
      return { op, path: unquote(body), line };
    case 'COPY': {
      const words = jsonArray(body) ?? body.split(/\s+/).filter(Boolean);
      let chown: string | undefined;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift()!;
        if (flag.startsWith('--chown=')) chown = flag.slice('--chown='.length);
        else throw error(`COPY ${flag}: only --chown is supported (COPY copies from the extension's context)`);
      }
      if (words.length < 2) throw error('COPY needs a source and a destination');
      return { op, sources: words.slice(0, -1), dest: words[words.length - 1]!, ...(chown ? { chown } : {}), line };
    }
    case 'ENV':
    case 'LABEL': {
      const pairs = keyValues(body);
      if (!pairs) throw error(`${op} ${body}: KEY=VALUE pairs`);
      return { op, pairs, line };
    }
    default:
      throw error(`${op} is not supported`);
  }
}

/** Lines joined at a trailing backslash, comments and blank lines dropped, each split into its instruction word and the rest. */
function* logicalLines(text: string): Generator<{ line: number; word: string; rest: string }> {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let current = lines[i]!;
    if (/^\s*#/.test(current) || !current.trim()) continue;
    while (/\\\s*$/.test(current) && i + 1 < lines.length) {
      current = current.replace(/\\\s*$/, '');
      i++;
      // Comment lines inside a continued instruction are dropped, as Docker does.
      if (!/^\s*#/.test(lines[i]!)) current += `\n${lines[i]!}`;
    }
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(current);
    if (m) yield { line: start, word: m[1]!, rest: m[2]! };
  }
}

function jsonArray(body: string): string[] | undefined {
  if (!body.startsWith('[')) return undefined;
  try {
    const v = JSON.parse(body) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // Not JSON: the shell form, as Docker takes it.
  }
  return undefined;
}

/** `K=V K2="V 2"` or the old `K V...` form. */
function keyValues(body: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  const re = /\s*([A-Za-z_][A-Za-z0-9_.\-/]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/y;
  let at = 0;
  while (at < body.length) {
    re.lastIndex = at;
    const m = re.exec(body);
    if (!m) break;
    out.push([m[1]!, unquote(m[2]!)]);
    at = re.lastIndex;
  }
  if (at >= body.trimEnd().length && out.length > 0) return out;
  const old = /^([A-Za-z_][A-Za-z0-9_.-]*)\s+(.+)$/s.exec(body);
  return old ? [[old[1]!, old[2]!.trim()]] : undefined;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  return v;
}

/** Docker's substitution in FROM, COPY, ENV, LABEL, USER, WORKDIR: $NAME, ${NAME}, ${NAME:-DEFAULT}, ${NAME:+ALT}. */
export function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, braced?: string, mode?: string, word?: string, bare?: string) => {
      if (all === '\\$') return '$';
      const name = braced ?? bare!;
      const v = vars[name];
      if (mode === '-') return v ? v : (word ?? '');
      if (mode === '+') return v ? (word ?? '') : '';
      return v ?? '';
    },
  );
}
