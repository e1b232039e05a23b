// Augmentation keeps a model's rewrite only when the call stays exactly right: every value
// verbatim, a new utterance, a sane length. Scripted answers stand in for the model.
import { describe, expect, it } from 'vitest';
import { acceptParaphrase, augmentRows, cleanParaphrase, paraphraseRequest } from '../src/data/augment.ts';
import type { SeedRow } from '../src/data/builder.ts';

const row = (input: string, parameters: Record<string, string>, tool = 'SCHEDULE_MEETING'): SeedRow => ({
  instruct: 'i：',
  input,
  output: { tool_name: tool, parameters },
});
const sched = row('预约明天上午十点的周例会', { meeting_name: '周例会', time: '明天上午十点' });

describe('augmentation', () => {
  it('asks for a rewrite that keeps each value', () => {
    expect(paraphraseRequest(sched.input, ['周例会', '明天上午十点'])).toBe(
      '请换一种说法表达下面这句话，意思不变，其中的“周例会”、“明天上午十点”必须原样保留。只输出改写后的一句话。\n预约明天上午十点的周例会',
    );
  });

  it('takes the first line and strips quotes and labels', () => {
    expect(cleanParaphrase('  “帮我把周例会定在明天上午十点”\n解释：……')).toBe('帮我把周例会定在明天上午十点');
    expect(cleanParaphrase('改写后的句子：明天上午十点开周例会')).toBe('明天上午十点开周例会');
  });

  it('keeps a rewrite only with every value verbatim and a new utterance, marked generated', () => {
    expect(acceptParaphrase(sched, '明天上午十点开周例会，帮我约一下', new Set())).toEqual({
      ...sched,
      input: '明天上午十点开周例会，帮我约一下',
      generated: true,
    });
    expect(acceptParaphrase(sched, '明早十点开周例会', new Set())).toBe('lost the value "明天上午十点"');
    expect(acceptParaphrase(sched, sched.input, new Set())).toBe('not new');
    expect(acceptParaphrase(sched, '明天上午十点周例会', new Set(['明天上午十点周例会']))).toBe('not new');
    expect(acceptParaphrase(sched, '', new Set())).toBe('empty');
    expect(acceptParaphrase(sched, '明天上午十点周例会' + '好'.repeat(60), new Set())).toBe('too long');
  });

  it('augmentRows: one request per row, kept rows after, reasons counted, no two rewrites alike', async () => {
    const rows = [
      sched,
      row('结束会议', {}, 'END_MEETING'),
      row('邀请张伟参加会议', { name: '张伟' }, 'INVITE_PARTICIPANT'),
    ];
    let asked: string[] = [];
    const r = await augmentRows(rows, ['会议到此结束'], async (req) => {
      asked = req;
      return ['“明天上午十点开周例会”', '会议到此结束', '请让张伟入会'];
    });
    expect(asked).toHaveLength(3);
    expect(asked[1]).toBe('请换一种说法表达下面这句话，意思不变，只输出改写后的一句话。\n结束会议');
    expect(r.rows.map((x) => [x.input, x.generated])).toEqual([
      ['明天上午十点开周例会', true],
      ['请让张伟入会', true],
    ]);
    expect(r.dropped).toEqual({ 'not new': 1 });
  });
});
