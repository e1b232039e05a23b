// Run names on the Chinese page (issue 22, closing note: "run N" stayed English). A run is stored
// as "run N" (also its export folder's name); the page shows it in its own language.
import { describe, expect, it } from 'vitest';
import { translator } from '../src/ui/shared/i18n.ts';
import { defaultRunName, runName } from '../src/ui/evaluate/run-name.ts';

describe('run names', () => {
  it('a default name is said in the page language: Chinese on the Chinese page, unchanged in English', () => {
    const stored = { name: defaultRunName(3) };
    expect(stored.name).toBe('run 3');
    expect(runName(translator('en'), stored)).toBe('run 3');
    const zh = runName(translator('zh'), stored);
    expect(zh).toBe('第 3 次训练');
    expect(zh).not.toMatch(/[A-Za-z]/);
    // two-digit numbers and the comparison heading that puts two names together
    expect(runName(translator('zh'), { name: 'run 12' })).toBe('第 12 次训练');
    expect(translator('zh')('runs.compare', { a: runName(translator('zh'), { name: 'run 1' }), b: zh })).toBe(
      '第 1 次训练 与 第 3 次训练',
    );
  });

  it('a name of any other form is shown as stored', () => {
    for (const name of ['my run', 'run', 'run 3b', 'rerun 3']) expect(runName(translator('zh'), { name })).toBe(name);
  });
});
