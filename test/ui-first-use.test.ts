import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { importDataset } from '../src/data/dataset.ts';
import { commonInstruct, visibleWhitespace } from '../src/ui/playground/chat-prefix.ts';
import { formOfKey, sourceIdOf } from '../src/ui/model/source-form.ts';
import { sourceKey } from '../src/io/sources.ts';
import { initialState } from '../src/ui/app/state.ts';

describe('the Playground sends what training saw', () => {
  it('finds the instruction every sample row starts with', () => {
    const rows = importDataset(readFileSync('public/samples/meeting-train.json', 'utf8')).rows;
    const instruct = commonInstruct(rows);
    expect(instruct.length).toBeGreaterThan(4);
    // Every row starts with it, and what follows differs from row to row.
    for (const r of rows) expect(r.user.startsWith(instruct)).toBe(true);
    expect(new Set(rows.map((r) => r.user.slice(instruct.length))).size).toBeGreaterThan(rows.length / 2);
  });

  it('adds nothing when the rows share no instruction', () => {
    expect(
      commonInstruct([
        { user: '打开白板', answer: '' },
        { user: '关闭白板', answer: '' },
      ]),
    ).toBe('');
    expect(commonInstruct([{ user: 'Translate: a', answer: '' }])).toBe('');
  });

  it('shows an answer of line breaks and spaces', () => {
    expect(visibleWhitespace('\n\n \n')).toEqual({ shown: '↵\n↵\n·↵\n', breaks: 3, spaces: 1 });
    expect(visibleWhitespace(' a\n')).toBeUndefined();
    expect(visibleWhitespace('')).toBeUndefined();
  });
});

describe('cached models and the Load button', () => {
  const form = initialState('en').source;
  it('a cached model key gives back the form that loads it', () => {
    for (const s of [
      { kind: 'hf', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'main' },
      { kind: 'modelscope', repo: 'Qwen/Qwen3-0.6B', revision: 'master' },
      { kind: 'url', baseUrl: 'https://m.example/qwen/' },
    ] as const) {
      const key = sourceKey(s);
      const back = { ...form, ...formOfKey(key) };
      expect(sourceIdOf(back, 'https://page.example/'), key).toBe(key);
    }
    // A key of another endpoint (a mirror host) is not turned into a form that would fetch elsewhere.
    expect(formOfKey('hf:https://mirror.example|Qwen/x@main')).toBeUndefined();
  });

  it('another source is another id, so the button says Load, not Load again', () => {
    const hf = { ...form, kind: 'hf' as const, repo: 'Qwen/Qwen2.5-0.5B-Instruct' };
    expect(sourceIdOf(hf, 'https://p/')).not.toBe(sourceIdOf({ ...hf, kind: 'modelscope' }, 'https://p/'));
    expect(sourceIdOf({ ...hf, repo: '' }, 'https://p/')).toBe('');
  });
});
