// Tool schema parsing: the shipped sample and hand-written schemas parse to what their JSON
// says; bad schemas fail with every problem named by tool and field; export round-trips.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SchemaError, formatSchemaIssue } from '../src/core/errors.ts';
import {
  callProblems,
  formatToolSchema,
  parseTemplate,
  parseToolSchema,
  textCallProblems,
} from '../src/data/schema.ts';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');
const MEETING = read('../public/samples/meeting-schema.json');
const HOME = read('./fixtures/schemas/smart-home.json');

function issues(src: unknown): string[] {
  try {
    parseToolSchema(typeof src === 'string' ? src : JSON.stringify(src), 'bad.json');
  } catch (e) {
    expect(e).toBeInstanceOf(SchemaError);
    expect((e as SchemaError).message).toMatch(/^bad\.json: /);
    return (e as SchemaError).issues.map(formatSchemaIssue);
  }
  throw new Error('the schema was accepted');
}

const tool = (
  name: string,
  props: Record<string, unknown> = {},
  required: string[] = [],
  templates: string[] = ['go'],
) => ({
  type: 'function',
  function: { name, parameters: { type: 'object', properties: props, required } },
  templates,
});

describe('parseToolSchema', () => {
  it('reads the shipped meeting assistant: ten tools, their parameters, system and instruct', () => {
    const s = parseToolSchema(MEETING);
    const raw = JSON.parse(MEETING);
    expect(s.system).toBe('现在你要扮演会议语音助手');
    expect(s.instruct).toBe('请将以下会议语音指令转换为工具调用JSON：');
    expect(s.tools.map((t) => t.name)).toEqual(raw.tools.map((t: any) => t.function.name));
    const sched = s.tools.find((t) => t.name === 'SCHEDULE_MEETING')!;
    expect(sched.params.map((p) => [p.name, p.required])).toEqual([
      ['meeting_name', true],
      ['time', true],
    ]);
    expect(sched.params[1].examples).toContain('明天下午两点半');
    expect(s.tools.find((t) => t.name === 'END_MEETING')!.params).toEqual([]);
  });

  it('keeps enum, examples, optional parameters and a tool with no parameters field at all', () => {
    const s = parseToolSchema(read('./fixtures/schemas/travel-en.json'));
    const fl = s.tools[0];
    expect(fl.params.map((p) => [p.name, p.required, p.enum ?? null])).toEqual([
      ['from', true, null],
      ['to', true, null],
      ['class', false, ['economy', 'business']],
    ]);
    expect(s.tools[2]).toEqual({
      name: 'help',
      params: [],
      templates: ['help', 'what can you do?', 'HELP ME', 'options'],
    });
    expect(s.system).toBeUndefined();
  });

  it('round-trips through its export format', () => {
    for (const text of [MEETING, HOME]) {
      const s = parseToolSchema(text);
      expect(parseToolSchema(formatToolSchema(s))).toEqual(s);
    }
    // A bare OpenAI tools array is accepted too.
    expect(parseToolSchema(JSON.stringify(JSON.parse(HOME).tools)).tools.length).toBe(3);
  });

  it('splits templates into text and placeholders', () => {
    expect(parseTemplate('开{x}会{y}')).toEqual(['开', { param: 'x' }, '会', { param: 'y' }]);
    expect(parseTemplate('a {b')).toMatch(/without "}"/);
    expect(parseTemplate('a } b')).toMatch(/without "{"/);
  });
});

describe('bad schemas', () => {
  it('not JSON: the line of the problem', () => {
    const out = issues('{\n  "tools": [\n    {"type": "function",, }\n  ]\n}');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^line 3, not valid JSON/);
  });

  it('a template naming an unknown {param}: the tool and the template', () => {
    const out = issues({
      tools: [tool('A', { x: { type: 'string', examples: ['1'] } }, [], ['do {x}', 'do {y} now'])],
    });
    expect(out).toEqual([
      'tool "A", field "template 2", "do {y} now" names {y}, which is not a parameter of this tool (x)',
    ]);
  });

  it('an empty enum, two tools with one name, a required parameter not in properties', () => {
    const out = issues({
      tools: [
        tool('A', { mode: { type: 'string', enum: [] } }),
        tool('B', { x: { type: 'string', examples: ['1'] } }, ['x', 'z'], ['b {x}']),
        tool('A'),
      ],
    });
    expect(out).toEqual([
      'tool "A", field "function.parameters.properties.mode.enum", is empty: give at least one value',
      'tool "B", field "function.parameters.required item 2", names "z", which is not in properties',
      'tool "A", field "function.name", is used by tool 1 and tool 3: tool names must be unique',
    ]);
  });

  it('other mistakes are each named', () => {
    const out = issues({
      system: 3,
      tools: [
        tool('A', { n: { type: 'integer' } }),
        { type: 'function', function: { name: '' } },
        tool('C', { p: { type: 'string' } }, ['p'], ['use {p}', 'without it']),
        tool('D', { e: { type: 'string', enum: ['x', 'x'], examples: ['y'] } }, [], ['{e}']),
      ],
    });
    expect(out).toEqual([
      'field "system", must be a string',
      'tool "A", field "function.parameters.properties.n.type", must be "string" (the only parameter type supported), got "integer"',
      'tool "tool 2", field "function.name", must be a non-empty string',
      'tool "C", field "template 1", "use {p}" names {p}, which has no values to fill in: give it "examples" or "enum"',
      'tool "C", field "template 2", "without it" leaves out the required parameter {p}',
      'tool "D", field "function.parameters.properties.e.enum item 2", "x" is listed twice',
      'tool "D", field "template 1", "{e}" has no words of its own',
    ]);
    expect(issues({ tools: [] })).toEqual(['field "tools", is empty: give at least one tool']);
    expect(issues('[1')).toHaveLength(1);
    expect(issues('"tools"')).toEqual(['must be a JSON object with "tools" (or a tools array)']);
  });
});

describe('callProblems', () => {
  const s = parseToolSchema(HOME);
  it('accepts calls that fit and names what does not', () => {
    expect(callProblems(s, { tool_name: 'SET_LIGHT', parameters: { room: '厨房', state: '开' } })).toEqual([]);
    expect(callProblems(s, { tool_name: 'GOOD_NIGHT', parameters: {} })).toEqual([]);
    expect(callProblems(s, { tool_name: 'SET_TEMPERATURE', parameters: { degrees: '任意文字' } })).toEqual([]);
    expect(callProblems(s, { tool_name: 'SET_LIGHT', parameters: { room: '厨房', state: '半开', x: '1' } })).toEqual([
      'SET_LIGHT.state = "半开" is not one of "开", "关"',
      'SET_LIGHT has no parameter "x"',
    ]);
    expect(callProblems(s, { tool_name: 'SET_LIGHT', parameters: { state: '关' } })).toEqual([
      'SET_LIGHT is missing the required parameter "room"',
    ]);
    expect(callProblems(s, { tool_name: 'NOPE', parameters: {} })[0]).toMatch(/not a tool/);
    expect(callProblems(s, { tool_name: 'GOOD_NIGHT', parameters: {}, extra: 1 })[0]).toMatch(/unknown key "extra"/);
    expect(callProblems(s, { tool_name: 'SET_TEMPERATURE', parameters: { degrees: 20 } })[0]).toMatch(
      /must be a string/,
    );
    expect(callProblems(s, { tool_name: 'SET_TEMPERATURE', parameters: { degrees: '' } })[0]).toMatch(/is empty/);
    expect(textCallProblems(s, ' {"tool_name":"GOOD_NIGHT","parameters":{}}\n')).toEqual([]);
    expect(textCallProblems(s, '{"tool_name":"GOOD_NIGHT"')).toEqual(['not valid JSON']);
  });
});
