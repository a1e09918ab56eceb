import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDetectPlan } from '../../../buildpack/cnb/build-plan.js';
import { BuildEnv } from '../../../buildpack/cnb/env-files.js';
import { extensionPath, type ExtensionDescriptor } from '../../../buildpack/cnb/extension-descriptor.js';
import type { BuildSession } from '../../../sandbox/build-session.js';
import type { DetectTrial } from '../detect-trial.js';
import { APP_DIR, PLATFORM_DIR, type StagingDirs } from '../paths.js';

export interface ExtensionDetectInput {
  session: BuildSession;
  dirs: StagingDirs;
  baseEnv: Record<string, string>;
}

/**
 * An image extension's detect (image_extension.md "Detection"): bin/detect as a
 * buildpack's, with CNB_EXTENSION_DIR instead of CNB_BUILDPACK_DIR; without bin/detect
 * it passes and `<extension>/detect/plan.toml` is its plan. An extension may only
 * provide: a plan that requires is an error naming it.
 */
export async function detectExtension(
  input: ExtensionDetectInput,
  ext: ExtensionDescriptor,
  n: number,
): Promise<{ trial: DetectTrial; text: string }> {
  const base = { id: ext.id, version: ext.version };
  let text: string;
  if (!existsSync(join(ext.dir, 'bin', 'detect'))) {
    const file = join(ext.dir, 'detect', 'plan.toml');
    text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    return checked(base, { result: 'pass', exitCode: 0, output: '' }, text);
  }
  const { session, dirs } = input;
  const plan = session.outputFile(`ext-plan-${n}.toml`);
  const env = new BuildEnv(input.baseEnv);
  if (!ext.clearEnv) env.applyPlatformEnv(dirs.platformTree, 'env');
  env.apply('CNB_EXTENSION_DIR', 'override', extensionPath(ext));
  env.apply('CNB_PLATFORM_DIR', 'override', PLATFORM_DIR);
  env.apply('CNB_BUILD_PLAN_PATH', 'override', plan.path);
  try {
    const { exitCode, output } = await session.exec({
      argv: [`${extensionPath(ext)}/bin/detect`, PLATFORM_DIR, plan.path],
      env: env.toList(),
      cwd: APP_DIR,
    });
    const result = exitCode === 0 ? 'pass' : exitCode === 100 ? 'fail' : 'error';
    text = result === 'pass' ? plan.read() : '';
    return checked(base, { result, exitCode, output }, text);
  } finally {
    plan.close();
  }
}

function checked(
  base: { id: string; version: string },
  r: Pick<DetectTrial, 'result' | 'exitCode' | 'output'>,
  text: string,
): { trial: DetectTrial; text: string } {
  if (r.result === 'pass') {
    const alternatives = parseDetectPlan(text, `the build plan of image extension ${base.id}`);
    if (alternatives.some((a) => a.requires.length > 0))
      return {
        trial: {
          ...base,
          result: 'error',
          exitCode: -1,
          output: `image extension ${base.id}@${base.version}: its build plan has [[requires]]; an image extension may only provide`,
        },
        text: '',
      };
  }
  return { trial: { ...base, ...r }, text };
}
