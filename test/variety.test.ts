// Variety in built rows, on schemas no other test uses (written here). Oracles: pinyin-pro's
// own pinyin of the characters swapped, the templates' words (every value must still be in the
// utterance, every change outside the values), and counts of distinct utterances.
import { pinyin } from 'pinyin-pro';
import { describe, expect, it } from 'vitest';
import { SeededRng } from '../src/core/rng.ts';
import { buildRows, rowProblems } from '../src/data/builder.ts';
import { parseToolSchema } from '../src/data/schema.ts';
import { applyVariant, segmentsOf, joinSegments, soundsLike, VARIANT_KINDS } from '../src/data/variety.ts';

// A tool with 3 templates and no parameters, and a tool with values, Chinese and English.
const KITCHEN = parseToolSchema({
  instruct: '把指令转成调用：',
  tools: [
    {
      type: 'function',
      function: { name: 'BREW_TEA', parameters: { type: 'object', properties: {} } },
      templates: ['泡一壶茶', '来杯茶', '我想喝茶，现在泡'],
    },
    {
      type: 'function',
      function: {
        name: 'SET_TIMER',
        parameters: {
          type: 'object',
          properties: { minutes: { type: 'string', examples: ['两分钟', '5分钟', '二十分钟', '半小时'] } },
          required: ['minutes'],
        },
      },
      templates: ['定个{minutes}的计时器', '计时{minutes}，到了叫我', '帮我设{minutes}倒计时'],
    },
    {
      type: 'function',
      function: {
        name: 'PLAY_SONG',
        parameters: {
          type: 'object',
          properties: { title: { type: 'string', examples: ['Yellow', 'Hey Jude', 'Let It Be'] } },
          required: ['title'],
        },
      },
      templates: ['play {title}', 'put on {title}, loud'],
    },
  ],
});

const strip = (s: string) => pinyin(s, { toneType: 'none' });

describe('variants', () => {
  it('homophones share the pinyin (or a near one) and no variant touches a value', () => {
    for (const ch of '茶喝想计时') {
      const alt = soundsLike(ch);
      expect(alt.length, ch).toBeGreaterThan(0);
      const near = (p: string) =>
        p
          .replace(/^zh/, 'z')
          .replace(/^ch/, 'c')
          .replace(/^sh/, 's')
          .replace(/^n(?=[aeiouv])/, 'l')
          .replace(/ng$/, 'n');
      for (const a of alt) expect(near(strip(a)), `${ch} ~ ${a}`).toBe(near(strip(ch)));
    }
    const rng = new SeededRng(1);
    const segs = segmentsOf('计时{minutes}，到了叫我两声', { minutes: '两分钟' });
    for (const kind of VARIANT_KINDS) {
      for (let k = 0; k < 20; k++) {
        const v = applyVariant(kind, segs, rng);
        if (!v) continue;
        expect(v.filter((s) => s.value).map((s) => s.text)).toEqual(['两分钟']);
        expect(joinSegments(v)).not.toBe(joinSegments(segs));
      }
    }
    expect(joinSegments(applyVariant('reorder', segs, rng)!)).toBe('到了叫我两声，计时两分钟');
    expect(applyVariant('number', segmentsOf('{minutes}', { minutes: '两分钟' }), rng)).toBeNull(); // only the value has 两
  });

  it('--per-tool 50 on a tool with 3 templates and no parameters: 50 distinct rows, each variant marked, values intact', () => {
    const { train, eval: held } = buildRows(KITCHEN, { perTool: 50, evalPerTool: 5, seed: 3, variety: { share: 0.3 } });
    const tea = train.filter((r) => r.output.tool_name === 'BREW_TEA');
    expect(tea.length).toBe(50);
    expect(new Set([...train, ...held].map((r) => r.input)).size).toBe(train.length + held.length);
    expect(tea.filter((r) => !r.variant).length).toBe(3);
    for (const r of [...train, ...held]) expect(rowProblems(KITCHEN, r), r.input).toEqual([]);
    const kinds = new Set(train.flatMap((r) => (r.variant ?? '').split('+')).filter(Boolean));
    for (const k of ['filler', 'polite', 'particle', 'asr', 'reorder']) expect(kinds.has(k), k).toBe(true);
    // The share: about 30% of the 12 rows the timer's templates give are variants (about 8 stay plain), the rest top-ups.
    const plainTimer =
      train.filter((r) => r.output.tool_name === 'SET_TIMER' && !r.variant).length +
      held.filter((r) => r.output.tool_name === 'SET_TIMER' && !r.variant).length;
    expect(plainTimer).toBeGreaterThanOrEqual(4);
    expect(plainTimer).toBeLessThanOrEqual(11);
  });

  it('share 0 leaves the template rows as they were; one kind only when asked', () => {
    const plain = buildRows(KITCHEN, { perTool: 3, seed: 2 });
    expect(buildRows(KITCHEN, { perTool: 3, seed: 2, variety: { share: 0 } })).toEqual(plain);
    // English has no homophone table: PLAY_SONG gives its 6 template rows unchanged, and no more.
    const asr = buildRows(KITCHEN, { perTool: 6, seed: 2, variety: { share: 1, kinds: ['asr'] } });
    const zh = asr.train.filter((r) => r.output.tool_name !== 'PLAY_SONG');
    expect(zh.every((r) => r.variant?.split('+').every((k) => k === 'asr'))).toBe(true);
    expect(asr.train.filter((r) => r.output.tool_name === 'PLAY_SONG' && r.variant)).toEqual([]);
  });
});
