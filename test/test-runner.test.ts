// scripts/test.mjs's count (scripts/test-summary.mjs): what npm test and test:full report.
import { describe, expect, it } from 'vitest';
import { closing, e2eResults, formatResults, skipReasons, vitestResults } from '../scripts/test-summary.mjs';

const assertion = (fullName: string, status: string, failureMessages: string[] = []) => ({
  fullName,
  status,
  failureMessages,
});
const report = {
  testResults: [
    {
      name: 'test/a.test.ts',
      status: 'passed',
      assertionResults: [assertion('one', 'passed'), assertion('two', 'skipped')],
    },
    {
      name: 'test/b.test.ts',
      status: 'failed',
      message: 'Error: f16 golden cases cannot run under CI: lavapipe is not fetched\n  at …',
      assertionResults: [],
    },
    {
      name: 'test/c.test.ts',
      status: 'failed',
      assertionResults: [assertion('three', 'failed', ['AssertionError: 1 !== 2\n at'])],
    },
  ],
};
const reasons = skipReasons(
  `${JSON.stringify({ file: 'test/a.test.ts', what: 'python3 with jinja2', reason: 'not installed' })}\n`,
);

describe('the closing count', () => {
  it('counts tests, a file that failed outside its tests once, and names each skip with its reason', () => {
    const rs = vitestResults(report, { code: 1, reasons, ci: false });
    expect(rs.map((r) => `${r.status} ${r.name}`)).toEqual([
      'passed test/a.test.ts > one',
      'skipped test/a.test.ts > two',
      'failed test/b.test.ts (the file)',
      'failed test/c.test.ts > three',
    ]);
    expect(rs[1].reason).toBe('python3 with jinja2: not installed');
    expect(rs[2].reason).toMatch(/cannot run under CI/);
    const { lines, ok } = closing('npm test', [
      { part: 'vitest', seconds: 3, results: rs },
      { part: 'e2e', seconds: 5, results: e2eResults([{ name: 'app-offline', status: 'passed' }], { code: 0 }) },
    ]);
    expect(ok).toBe(false);
    expect(lines.at(-1)).toBe('2 passed, 2 failed, 1 skipped');
    expect(lines).toContain('  ↓ test/a.test.ts > two: python3 with jinja2: not installed');
  });

  it('under CI a skip with no recorded reason is a failure; locally it is listed as unexplained', () => {
    const bare = {
      testResults: [{ name: 't.test.ts', status: 'passed', assertionResults: [assertion('x', 'skipped')] }],
    };
    expect(vitestResults(bare, { code: 0, reasons: new Map(), ci: true })[0].status).toBe('failed');
    expect(vitestResults(bare, { code: 0, reasons: new Map(), ci: false })[0]).toMatchObject({
      status: 'skipped',
      reason: expect.stringMatching(/no reason recorded/),
    });
  });

  it('a part that wrote no report, or exited non-zero with everything passing, is a failure', () => {
    expect(vitestResults(undefined, { code: 1, why: 'killed by SIGTERM', reasons, ci: false })).toEqual([
      { name: 'vitest', status: 'failed', reason: 'exited 1 without a report (killed by SIGTERM)' },
    ]);
    expect(vitestResults({ testResults: [] }, { code: 1, reasons, ci: false }).map((r) => r.status)).toEqual([
      'failed',
    ]);
    expect(e2eResults(undefined, { code: 1 })[0].status).toBe('failed');
    expect(e2eResults([{ name: 'x', status: 'passed' }], { code: 1 }).map((r) => r.status)).toEqual([
      'passed',
      'failed',
    ]);
    expect(closing('t', []).ok).toBe(false); // nothing ran: not a pass
  });
});

// What prettier 3.10.2 printed for `prettier --check --log-level warn` over a folder with two
// unformatted files and one that does not parse (captured from a real run, not written by hand).
const PRETTIER_OUTPUT = `[warn] src/bad.ts
[error] src/syn.ts: SyntaxError: Variable declaration expected. (1:7)
[error] > 1 | const = ;
[error]     |       ^
[error]   2 |
[warn] src/worse.mjs
[warn] Code style issues found in 2 files. Run Prettier with --write to fix.
`;

describe('the format part (npm run format:check)', () => {
  it('passes on exit 0 and, on a failure, names each unformatted file and each file that does not parse', () => {
    expect(formatResults('', { code: 0 })).toEqual([{ name: 'format (prettier --check)', status: 'passed' }]);
    const [r] = formatResults(PRETTIER_OUTPUT, { code: 2 });
    expect(r.status).toBe('failed');
    expect(r.reason).toBe(
      '2 files not formatted (npm run format fixes them): src/bad.ts, src/worse.mjs; cannot parse: src/syn.ts (SyntaxError)',
    );
    const { lines, ok } = closing('npm test', [{ part: 'format', seconds: 1, results: [r] }]);
    expect(ok).toBe(false);
    expect(lines).toContain(`  ✗ format (prettier --check): ${r.reason}`);
  });

  it('a failure that names no file (prettier missing) keeps its first line', () => {
    expect(formatResults('sh: 1: prettier: not found\n', { code: 127 })[0]).toEqual({
      name: 'format (prettier --check)',
      status: 'failed',
      reason: 'exited 127: sh: 1: prettier: not found',
    });
  });
});
