// scripts/test.mjs's count (scripts/test-summary.mjs): what npm test and test:full report.
import { describe, expect, it } from 'vitest';
import { closing, e2eResults, skipReasons, vitestResults } from '../scripts/test-summary.mjs';

const assertion = (fullName: string, status: string, failureMessages: string[] = []) => ({ fullName, status, failureMessages });
const report = {
  testResults: [
    { name: 'test/a.test.ts', status: 'passed', assertionResults: [assertion('one', 'passed'), assertion('two', 'skipped')] },
    { name: 'test/b.test.ts', status: 'failed', message: 'Error: f16 golden cases cannot run under CI: lavapipe is not fetched\n  at …', assertionResults: [] },
    { name: 'test/c.test.ts', status: 'failed', assertionResults: [assertion('three', 'failed', ['AssertionError: 1 !== 2\n at'])] },
  ],
};
const reasons = skipReasons(`${JSON.stringify({ file: 'test/a.test.ts', what: 'python3 with jinja2', reason: 'not installed' })}\n`);

describe('the closing count', () => {
  it('counts tests, a file that failed outside its tests once, and names each skip with its reason', () => {
    const rs = vitestResults(report, { code: 1, reasons, ci: false });
    expect(rs.map((r) => `${r.status} ${r.name}`)).toEqual(['passed test/a.test.ts > one', 'skipped test/a.test.ts > two', 'failed test/b.test.ts (the file)', 'failed test/c.test.ts > three']);
    expect(rs[1].reason).toBe('python3 with jinja2: not installed');
    expect(rs[2].reason).toMatch(/cannot run under CI/);
    const { lines, ok } = closing('npm test', [{ part: 'vitest', seconds: 3, results: rs }, { part: 'e2e', seconds: 5, results: e2eResults([{ name: 'app-offline', status: 'passed' }], { code: 0 }) }]);
    expect(ok).toBe(false);
    expect(lines.at(-1)).toBe('2 passed, 2 failed, 1 skipped');
    expect(lines).toContain('  ↓ test/a.test.ts > two: python3 with jinja2: not installed');
  });

  it('under CI a skip with no recorded reason is a failure; locally it is listed as unexplained', () => {
    const bare = { testResults: [{ name: 't.test.ts', status: 'passed', assertionResults: [assertion('x', 'skipped')] }] };
    expect(vitestResults(bare, { code: 0, reasons: new Map(), ci: true })[0].status).toBe('failed');
    expect(vitestResults(bare, { code: 0, reasons: new Map(), ci: false })[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/no reason recorded/) });
  });

  it('a part that wrote no report, or exited non-zero with everything passing, is a failure', () => {
    expect(vitestResults(undefined, { code: 1, why: 'killed by SIGTERM', reasons, ci: false })).toEqual([{ name: 'vitest', status: 'failed', reason: 'exited 1 without a report (killed by SIGTERM)' }]);
    expect(vitestResults({ testResults: [] }, { code: 1, reasons, ci: false }).map((r) => r.status)).toEqual(['failed']);
    expect(e2eResults(undefined, { code: 1 })[0].status).toBe('failed');
    expect(e2eResults([{ name: 'x', status: 'passed' }], { code: 1 }).map((r) => r.status)).toEqual(['passed', 'failed']);
    expect(closing('t', []).ok).toBe(false); // nothing ran: not a pass
  });
});
