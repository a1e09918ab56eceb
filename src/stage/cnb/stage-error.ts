import { SlipwayError, type ErrorCode } from '../../errors.js';

export type Phase = 'detect' | 'generate' | 'extend' | 'restore' | 'build' | 'export';

/**
 * A staging failure with the platform spec's exit code (detector 20-29, restorer
 * 40-49, builder 50-59 with 51 for a failing buildpack, exporter 60-69; an image extension's
 * generate 91, the extender 102, as the lifecycle's) and the phase.
 */
export class StageError extends SlipwayError {
  constructor(
    readonly exitCode: number,
    readonly phase: Phase,
    message: string,
    detail: Record<string, unknown> = {},
    code: ErrorCode = 'TOOL_FAILED',
  ) {
    super(code, `${phase}: ${message}`, { detail: { ...detail, exitCode, phase } });
  }
}
