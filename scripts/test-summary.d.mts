// Types of scripts/test-summary.mjs (plain JS run by node; tested by test/test-runner.test.ts).
export interface Result {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  reason?: string;
}
export function vitestResults(
  report: unknown,
  o: {
    code: number;
    why?: string;
    reasons: Map<string, string>;
    ci: boolean;
    rel?: (p: string) => string;
    log?: string;
  },
): Result[];
export function skipReasons(text: string): Map<string, string>;
export function formatResults(output: string | undefined, o: { code: number; why?: string }): Result[];
export function e2eResults(summary: unknown, o: { code: number; why?: string }): Result[];
export function closing(
  title: string,
  parts: { part: string; seconds: number; results: Result[] }[],
): { lines: string[]; ok: boolean };
