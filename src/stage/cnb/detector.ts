import type { BuildpackDescriptor } from '../../buildpack/cnb/buildpack-descriptor.js';
import { apiAtLeast } from '../../buildpack/cnb/buildpack-descriptor.js';
import { explainPlan, parseDetectPlan, resolvePlan, type ResolvedPlan } from '../../buildpack/cnb/build-plan.js';
import type { GroupMember } from '../../buildpack/cnb/order.js';
import { BuildEnv } from '../../buildpack/cnb/env-files.js';
import { describeTargets, effectiveTargets, targetSatisfied, type ImageTarget } from '../../buildpack/cnb/targets.js';
import type { BuildSession } from '../../sandbox/build-session.js';
import { isExtension } from '../../buildpack/cnb/extension-descriptor.js';
import { detectExtension } from './extensions/detect.js';
import { APP_DIR, PLATFORM_DIR, buildpackPath, type StagingDirs } from './paths.js';
import { StageError } from './stage-error.js';

import type { DetectTrial } from './detect-trial.js';

export type { DetectTrial };

export interface DetectReport {
  group: BuildpackDescriptor[];
  plan: ResolvedPlan<BuildpackDescriptor>;
  trials: DetectTrial[];
}

export interface DetectorOptions {
  session: BuildSession;
  dirs: StagingDirs;
  /** The build image's environment plus the CNB_TARGET_* values. */
  baseEnv: Record<string, string>;
  log: (line: string) => void;
  /** The base image's target; buildpacks whose targets do not match it do not detect. */
  target?: ImageTarget;
}

/**
 * The detect phase (platform.md "detector"): each group of the order in turn, every
 * buildpack's bin/detect at once in the build container; the first group whose
 * required buildpacks pass and whose build plan resolves wins. Exit codes as the
 * platform spec says: 20 all groups failed, 21 one detect errored.
 */
export class Detector {
  constructor(private readonly options: DetectorOptions) {}

  async detect(groups: GroupMember[][]): Promise<DetectReport> {
    const trials: DetectTrial[] = [];
    const cache = new Map<string, Promise<{ trial: DetectTrial; text: string }>>();
    let errored = false;
    // Why groups whose detects passed did not resolve: the error names them.
    const unresolved: string[] = [];
    for (const group of groups) {
      const results = await Promise.all(
        group.map((m) => {
          const key = `${m.buildpack.id}@${m.buildpack.version}`;
          // As the lifecycle's detector (Platform API >= 0.12): a required buildpack whose targets do not
          // match is an error (-1) without running bin/detect; an optional one still runs detect.
          const mismatch = !m.optional && this.#targetMismatch(m.buildpack);
          if (mismatch) {
            if (!cache.has(`${key} target`))
              cache.set(
                `${key} target`,
                Promise.resolve({
                  trial: {
                    id: m.buildpack.id,
                    version: m.buildpack.version,
                    result: 'error',
                    exitCode: -1,
                    output: mismatch,
                  },
                  text: '',
                }),
              );
            return cache.get(`${key} target`)!;
          }
          if (!cache.has(key)) cache.set(key, this.#runDetect(m.buildpack, cache.size));
          return cache.get(key)!;
        }),
      );
      for (const r of results) if (!trials.includes(r.trial)) trials.push(r.trial);
      if (results.some((r) => r.trial.result === 'error')) errored = true;
      const failedRequired = group.some((m, i) => !m.optional && results[i]!.trial.result !== 'pass');
      if (failedRequired) continue;
      const elements = group.flatMap((m, i) => {
        const r = results[i]!;
        if (r.trial.result !== 'pass') return [];
        return [
          {
            buildpack: m.buildpack,
            optional: m.optional,
            alternatives: parseDetectPlan(r.text, `the build plan of ${m.buildpack.id}`, this.options.log),
          },
        ];
      });
      const plan = resolvePlan(elements);
      if (!plan) {
        const why = explainPlan(elements, (b) => b.id);
        const line = `group ${group.map((m) => m.buildpack.id).join(', ')}: the build plan does not resolve (${why.join('; ') || 'something required is not provided, or provided and not required'})`;
        this.options.log(line);
        unresolved.push(line);
        continue;
      }
      return { group: plan.group, plan, trials };
    }
    // A one-line reason is in the error; longer output is shown as it came.
    for (const t of trials)
      if (t.result !== 'pass' && t.output.trim().includes('\n'))
        this.options.log(`${t.id}@${t.version} detect (exit ${t.exitCode}):\n${t.output.trimEnd()}`);
    throw new StageError(
      errored ? 21 : 20,
      'detect',
      errored
        ? `no buildpack group passed detection and a detect failed with an error: ${trials
            .filter((t) => t.result === 'error')
            .map((t) => (t.exitCode === -1 ? t.output : `${t.id} (exit ${t.exitCode})`))
            .join(', ')}`
        : `no buildpack group passed detection; ${trials.length ? `what each looks for: ${trials.map(trialReason).join('; ')}` : 'no buildpacks were tried'}${unresolved.length ? `; ${unresolved.join('; ')}` : ''}`,
      { trials },
    );
  }

  /** The lifecycle's message when `bp` cannot run on the image's target; undefined when it can. */
  #targetMismatch(bp: BuildpackDescriptor): string | undefined {
    const image = this.options.target;
    if (!image || !bp.targets || targetSatisfied(bp.targets, bp.binBuild ?? false, image)) return undefined;
    const declared =
      bp.targets.targets.length || !bp.targets.stacks.length
        ? effectiveTargets(bp.targets, bp.binBuild ?? false)
        : bp.targets.stacks.map((id) => ({ stack: id }));
    return `${bp.id}@${bp.version}: ${describeTargets(image, declared)}${image.stackId && !bp.targets.targets.length && bp.targets.stacks.length ? ` (stack ${image.stackId})` : ''}`;
  }

  async #runDetect(bp: BuildpackDescriptor, n: number): Promise<{ trial: DetectTrial; text: string }> {
    if (isExtension(bp)) return detectExtension(this.options, bp, n);
    const { dirs, session } = this.options;
    // The plan file is one the host made (the buildpack writes into it; the host reads its own descriptor).
    const plan = session.outputFile(`plan-${n}.toml`);
    const planPath = plan.path;
    const env = new BuildEnv(this.options.baseEnv);
    if (!bp.clearEnv) env.applyPlatformEnv(dirs.platformTree, 'env');
    env.apply('CNB_BUILDPACK_DIR', 'override', buildpackPath(bp));
    if (apiAtLeast(bp.api, '0.8')) {
      env.apply('CNB_PLATFORM_DIR', 'override', PLATFORM_DIR);
      env.apply('CNB_BUILD_PLAN_PATH', 'override', planPath);
    }
    try {
      const { exitCode, output } = await session.exec({
        argv: [`${buildpackPath(bp)}/bin/detect`, PLATFORM_DIR, planPath],
        env: env.toList(),
        cwd: APP_DIR,
      });
      const result = exitCode === 0 ? 'pass' : exitCode === 100 ? 'fail' : 'error';
      return {
        trial: { id: bp.id, version: bp.version, result, exitCode, output },
        text: result === 'pass' ? plan.read() : '',
      };
    } finally {
      plan.close();
    }
  }
}

/**
 * What a failed detect said, as one line: `slipway/nodejs: no package.json` (the first
 * line it printed, which the built-in buildpacks make their reason), or its result and
 * exit code when it printed nothing.
 */
export function trialReason(t: DetectTrial): string {
  const first = t.output
    .split('\n')
    .map((l) => l.trim())
    .find(Boolean);
  if (t.result === 'pass') return `${t.id}: passed`;
  return first ? `${t.id}: ${first}` : `${t.id}: ${t.result} (detect exit ${t.exitCode}, no reason printed)`;
}
