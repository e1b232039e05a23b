import { describe, expect, it } from 'vitest';
import { importDataset } from '../src/data/dataset.ts';
import { DatasetError, type DatasetIssue } from '../src/core/errors.ts';
import { translator } from '../src/ui/shared/i18n.ts';
import { ISSUE_PATTERNS, issueMessage } from '../src/ui/data/issue-text.ts';
import { unseenTools } from '../src/ui/data/datasets.ts';

/** The problems the data layer reports for `text` (a failed import's, or a partial one's). */
function issuesOf(text: string): DatasetIssue[] {
  try {
    return importDataset(text).issues;
  } catch (e) {
    if (e instanceof DatasetError) return e.issues;
    throw e;
  }
}

const row = (o: object) => JSON.stringify(o);
const BAD_FILES = [
  [
    row({ instruct: 'a', input: 'b', output: 'c' }),
    row({ instruct: 'x', input: 'y', ouput: 'z' }),
    'not json',
    row({ instruct: 'x', input: 5, output: 'o' }),
    row({ instruct: 'x', input: 'y', output: [] }),
    row({ instruct: 'x', input: 'y', output: ' ' }),
    row({ instruct: '', input: '', output: 'o' }),
  ].join('\n'),
  [
    row({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a' },
      ],
    }),
    row({
      messages: [
        { role: 'assistant', content: 'a' },
        { role: 'user', content: 'q' },
      ],
    }),
    row({ messages: 'x' }),
    row({ messages: [{ role: 'user', content: 'q' }] }),
    row({
      messages: [
        { role: 'bot', content: 'q' },
        { role: 'assistant', content: '' },
      ],
    }),
  ].join('\n'),
  row({ foo: 1 }),
  '',
];

describe('data problems in the page language', () => {
  const issues = BAD_FILES.flatMap(issuesOf);

  it('every problem the data layer reports for these files has a pattern', () => {
    expect(issues.length).toBeGreaterThan(8);
    for (const i of issues)
      expect(
        ISSUE_PATTERNS.some(([re]) => re.test(i.message)),
        i.message,
      ).toBe(true);
  });

  it('no English sentence of the data layer is left on a Chinese page', () => {
    const zh = translator('zh');
    for (const i of issues) {
      const { text } = issueMessage(zh, i.message);
      expect(text, i.message).not.toMatch(/is missing|must be|not valid JSON|is empty|did you mean/);
      expect(text, i.message).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it('a typo of a field name is named with the field it should be', () => {
    const typo = issues.find((i) => i.field === 'output' && /ouput/.test(i.message));
    expect(typo?.message).toBe('is missing; the row has "ouput": did you mean "output"?');
    expect(issueMessage(translator('en'), typo!.message).text).toBe(
      'is missing; the row has “ouput”: did you mean “output”?',
    );
    expect(issueMessage(translator('zh'), typo!.message).text).toBe('缺失；该行有“ouput”：是否想写“output”？');
  });

  it('the JSON parser’s own words come apart as the detail', () => {
    const json = issues.find((i) => i.message.startsWith('not valid JSON'))!;
    const m = issueMessage(translator('zh'), json.message);
    expect(m.text).toBe('不是有效的 JSON');
    expect(json.message).toContain(m.detail);
  });
});

describe('eval rows the training rows never prepare for', () => {
  const r = (tool: string) => ({ user: 'u', answer: '', expected: { tool_name: tool, parameters: {} }, origin: {} });
  it('counts eval rows whose tool no training row shows, and names those tools', () => {
    expect(unseenTools([r('A'), r('B')], [r('A'), r('C'), r('C'), r('D')])).toEqual({
      rows: 3,
      share: 0.75,
      tools: ['C', 'D'],
    });
    expect(unseenTools([r('A')], [r('A')]).rows).toBe(0);
  });
});
