/** What one buildpack's (or image extension's) detect did. */
export interface DetectTrial {
  id: string;
  version: string;
  result: 'pass' | 'fail' | 'error';
  exitCode: number;
  output: string;
}
