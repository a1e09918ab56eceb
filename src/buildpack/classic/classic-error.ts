import { SlipwayError } from '../../errors.js';

/**
 * Exit codes of CF's builder (buildpackapplifecycle buildpackrunner): 222 nothing
 * detected, 223 compile (also a failing finalize or final supply: CF wraps those as
 * "Failed to compile droplet", so 226 is unreachable there too), 224 release, 225
 * supply; 1 for the rest (an invalid Procfile, a malformed buildpack).
 */
export const ClassicExit = { Detect: 222, Compile: 223, Release: 224, Supply: 225, Finalize: 226, Other: 1 } as const;

/** A classic staging failure with the CF builder's exit code and message. */
export class ClassicStageError extends SlipwayError {
  constructor(
    readonly exitCode: number,
    message: string,
    detail: Record<string, unknown> = {},
  ) {
    super('TOOL_FAILED', message, { detail: { ...detail, exitCode } });
  }
}
