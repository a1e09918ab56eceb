import { SlipwayError } from '../../errors.js';
import { optionalString, parseToml, table, tables, type TomlTable } from './toml.js';

/** A requirement of the build plan: a name and free-form metadata. */
export interface Require {
  name: string;
  metadata?: TomlTable;
}

/** One alternative of what a buildpack's detect wrote: the top level, or one `[[or]]`. */
export interface PlanAlternative {
  provides: string[];
  requires: Require[];
}

/**
 * Parses the build plan bin/detect appended to $CNB_BUILD_PLAN_PATH into its
 * alternatives: the top-level provides/requires first, then each [[or]].
 *
 * A top-level `version` in a require is moved to `metadata.version` with a warning
 * (`warn`), as the lifecycle did for Buildpack API 0.3 and later until it dropped the
 * APIs before 0.7: buildpacks written then (the CNB samples' ruby-bundler) still write
 * it, and their bin/build reads `metadata.version`. Both at once, and different, is the
 * lifecycle's error.
 */
export function parseDetectPlan(
  text: string,
  what: string,
  warn: (line: string) => void = () => {},
): PlanAlternative[] {
  const doc = parseToml(text, what);
  const alt = (t: TomlTable, where: string): PlanAlternative => ({
    provides: tables(t['provides'], `${where}provides`).map((p, i) => {
      const name = optionalString(p['name'], `${where}provides[${i}].name`);
      if (!name) throw new SlipwayError('INVALID_DOCUMENT', `${what}: ${where}provides[${i}] has no name`);
      return name;
    }),
    requires: tables(t['requires'], `${where}requires`).map((r, i) => {
      const name = optionalString(r['name'], `${where}requires[${i}].name`);
      if (!name) throw new SlipwayError('INVALID_DOCUMENT', `${what}: ${where}requires[${i}] has no name`);
      const metadata = { ...table(r['metadata'], `${where}requires[${i}].metadata`) };
      const version = r['version'];
      if (version !== undefined) {
        if (metadata['version'] !== undefined && metadata['version'] !== version)
          throw new SlipwayError(
            'INVALID_DOCUMENT',
            `${what}: ${where}requires[${i}] ("${name}") has a "version" key and a different "metadata.version"; keep only [requires.metadata] version`,
            { detail: { name, version, metadataVersion: metadata['version'] } },
          );
        warn(
          `Warning: ${what}: requires "${name}" has a "version" key, deprecated since Buildpack API 0.3; it is read as [requires.metadata] version`,
        );
        metadata['version'] = version;
      }
      return { name, ...(Object.keys(metadata).length ? { metadata } : {}) };
    }),
  });
  return [alt(doc, ''), ...tables(doc['or'], 'or').map((o, i) => alt(o, `or[${i}].`))];
}

/** A buildpack of a group whose detect passed, with its plan alternatives. */
export interface DetectedElement<B> {
  buildpack: B;
  optional: boolean;
  alternatives: PlanAlternative[];
}

/** The buildpacks that stay, and the plan entries (each require with its providers). */
export interface ResolvedPlan<B> {
  group: B[];
  entries: { providers: B[]; requires: Require[] }[];
}

/**
 * The build plan resolution of buildpack.md "Phase #1: Detection": trials pick one
 * alternative per element, left to right, depth first; a trial fails when a required
 * element provides what neither it nor a later element requires, or requires what
 * neither it nor an earlier element provides. An optional element breaking either
 * rule is dropped instead. The first trial that holds wins; undefined when none does.
 */
export function resolvePlan<B>(elements: DetectedElement<B>[]): ResolvedPlan<B> | undefined {
  const choice = new Array<number>(elements.length).fill(0);
  for (;;) {
    const result = trial(elements, choice);
    if (result) return result;
    // Next combination, the last element varying fastest.
    let i = elements.length - 1;
    while (i >= 0 && choice[i]! + 1 >= elements[i]!.alternatives.length) choice[i--] = 0;
    if (i < 0) return undefined;
    choice[i]!++;
  }
}

function trial<B>(elements: DetectedElement<B>[], choice: number[]): ResolvedPlan<B> | undefined {
  const kept = elements.map((e, i) => ({
    element: e,
    alt: e.alternatives[choice[i]!] ?? { provides: [], requires: [] },
  }));
  let alive = kept.map(() => true);
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < kept.length; i++) {
      if (!alive[i]) continue;
      const { alt, element } = kept[i]!;
      const laterRequires = (name: string) =>
        kept.some((k, j) => alive[j] && j >= i && k.alt.requires.some((r) => r.name === name));
      const earlierProvides = (name: string) =>
        kept.some((k, j) => alive[j] && j <= i && k.alt.provides.includes(name));
      const ok = alt.provides.every(laterRequires) && alt.requires.every((r) => earlierProvides(r.name));
      if (ok) continue;
      if (!element.optional) return undefined;
      alive = alive.map((a, j) => (j === i ? false : a));
      changed = true;
    }
  }
  const survivors = kept.filter((_, i) => alive[i]);
  if (survivors.length === 0) return undefined;
  const entries: ResolvedPlan<B>['entries'] = [];
  for (const s of survivors) {
    for (const r of s.alt.requires) {
      const providers = survivors.filter((p) => p.alt.provides.includes(r.name)).map((p) => p.element.buildpack);
      const same = entries.find((e) => e.requires[0]!.name === r.name);
      if (same) same.requires.push(r);
      else entries.push({ providers, requires: [r] });
    }
  }
  return { group: survivors.map((s) => s.element.buildpack), entries };
}

/**
 * Why a group's plan does not resolve, as the lifecycle's detector logs it ("fail: X
 * requires Y", "fail: X provides unused Y"), for the first alternative of each
 * required buildpack: the lines a user needs when detect passed and the group failed.
 */
export function explainPlan<B>(elements: DetectedElement<B>[], name: (b: B) => string): string[] {
  const first = elements.map((e) => e.alternatives[0] ?? { provides: [], requires: [] });
  const out: string[] = [];
  elements.forEach((e, i) => {
    if (e.optional) return;
    const alt = first[i]!;
    for (const r of alt.requires)
      if (!first.some((a, j) => j <= i && a.provides.includes(r.name)))
        out.push(`${name(e.buildpack)} requires ${r.name}, which no buildpack before it provides`);
    for (const p of alt.provides)
      if (!first.some((a, j) => j >= i && a.requires.some((r) => r.name === p)))
        out.push(`${name(e.buildpack)} provides ${p}, which no buildpack after it requires`);
  });
  return out;
}
