// Span constraints through the whole CLI path (build-data, eval --constrained, the engine's
// batched decoding with one cursor per row): every span value the untrained tiny model writes
// is a piece of its own row's utterance; with --free-spans it need not be. Oracle: the
// predictions file and String.includes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSpanParam, parseToolSchema, utteranceOf } from '../src/data/schema.ts';
import { cli } from './helpers/cli.ts';

const TINY = new URL('../public/models/tiny', import.meta.url).pathname;
// Every call of this schema copies a value: an untrained model cannot dodge the span by picking a tool without one.
const SCHEMA_JSON = {
  instruct: '转成调用：',
  tools: [
    {
      type: 'function',
      function: {
        name: 'CALL',
        parameters: {
          type: 'object',
          properties: { who: { type: 'string', examples: ['王芳', '李雷', '张伟', 'Tom', '赵六'] } },
          required: ['who'],
        },
      },
      templates: ['给{who}打电话', '呼叫{who}', '拨给{who}吧'],
    },
    {
      type: 'function',
      function: {
        name: 'NOTE',
        parameters: {
          type: 'object',
          properties: {
            text: { type: 'string', examples: ['买牛奶', '交报告', 'pay rent'] },
            when: { type: 'string', 'x-source': 'free', examples: ['明天', '下午'] },
          },
          required: ['text'],
        },
      },
      templates: ['记一下{text}', '{when}提醒我{text}'],
    },
  ],
};
const SCHEMA = parseToolSchema(SCHEMA_JSON);

describe('eval --constrained ties span values to each row', () => {
  it('every span value of every answer is in its own utterance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webtune-spans-'));
    const SCHEMA_FILE = join(dir, 'schema.json');
    writeFileSync(SCHEMA_FILE, JSON.stringify(SCHEMA_JSON));
    const b = await cli(
      'build-data',
      '--schema',
      SCHEMA_FILE,
      '--per-tool',
      '2',
      '--eval-per-tool',
      '4',
      '--out',
      join(dir, 't.json'),
      '--eval-out',
      join(dir, 'e.json'),
    );
    expect(b.code, b.err).toBe(0);
    const preds = join(dir, 'p.jsonl');
    const e = await cli(
      'eval',
      '--model',
      TINY,
      '--data',
      join(dir, 'e.json'),
      '--schema',
      SCHEMA_FILE,
      '--constrained',
      '--max-new-tokens',
      '48',
      '--predictions',
      preds,
      '--quiet',
    );
    expect(e.code, e.err).toBe(0);
    expect(e.json()).toMatchObject({ decoding: 'constrained', invalid_json_rate: 0, schema_valid_rate: 1 });
    let checked = 0;
    for (const l of readFileSync(preds, 'utf8').trim().split('\n')) {
      const p = JSON.parse(l);
      const call = JSON.parse(p.generated);
      const tool = SCHEMA.tools.find((t) => t.name === call.tool_name)!;
      for (const param of tool.params.filter(isSpanParam)) {
        const v = call.parameters[param.name];
        if (v === undefined) continue;
        expect(utteranceOf(SCHEMA, p.input).includes(v), `${v} / ${p.input}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  }, 300_000);
});
