// The Data step's schema form: form -> file format -> schema is the identity on real schemas,
// edits are pure, a broken form is refused by tool and field; rows written back to the seed
// format import to the same rows.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SchemaError } from '../src/core/errors.ts';
import { importDataset } from '../src/data/dataset.ts';
import { parseToolSchema } from '../src/data/schema.ts';
import { edit, formOf, schemaOf } from '../src/ui/data/schema-form.ts';
import { rowsText } from '../src/ui/data/error-loop.ts';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');

describe('schema form', () => {
  it('round-trips the shipped and test schemas', () => {
    for (const p of [
      '../public/samples/meeting-schema.json',
      './fixtures/schemas/smart-home.json',
      './fixtures/schemas/travel-en.json',
    ]) {
      const s = parseToolSchema(read(p));
      expect(schemaOf(formOf(s))).toEqual(s);
    }
  });

  it('edits without touching the old form, and a bad edit is refused by tool and field', () => {
    const f = formOf(parseToolSchema(read('./fixtures/schemas/smart-home.json')));
    const copy = structuredClone(f);
    const g = edit.param(edit.addParam(f, 2), 2, 0, { name: 'mode', isEnum: true, values: '' });
    expect(f).toEqual(copy);
    expect(g.tools[2].params).toEqual([{ name: 'mode', description: '', required: true, isEnum: true, values: '' }]);
    let err: unknown;
    try {
      schemaOf(edit.tool(g, 0, { templates: '把{roomz}的灯{state}了' }), 'editor');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaError);
    const issues = (err as SchemaError).issues;
    expect(issues).toContainEqual({
      tool: 'SET_LIGHT',
      field: 'template 1',
      message: expect.stringMatching(/names \{roomz\}, which is not a parameter/),
    });
    expect(issues).toContainEqual({
      tool: 'GOOD_NIGHT',
      field: 'function.parameters.properties.mode.enum',
      message: 'is empty: give at least one value',
    });
    expect(issues.every((i) => i.tool === 'SET_LIGHT' || i.tool === 'GOOD_NIGHT')).toBe(true);
    const removed = edit.removeTool(edit.removeParam(g, 2, 0), 1);
    expect(schemaOf(removed).tools.map((t) => [t.name, t.params.length])).toEqual([
      ['SET_LIGHT', 2],
      ['GOOD_NIGHT', 0],
    ]);
  });
});

describe('rowsText', () => {
  it('writes rows that import back to the same prompts, answers and system prompts', () => {
    const rows = [
      { user: '把卧室的灯关了', answer: '{"tool_name":"SET_LIGHT","parameters":{"room":"卧室","state":"关"}}' },
      { user: 'hi', answer: 'plain text answer', system: 'be brief' },
      { user: 'spaced', answer: '{"tool_name": "X", "parameters": {}}' },
    ];
    const imported = importDataset(rowsText(rows));
    const back = imported.rows;
    // A spaced JSON answer comes back in the one compact form (issue 21), counted once.
    const compact = rows.map((r) => (r.user === 'spaced' ? { ...r, answer: '{"tool_name":"X","parameters":{}}' } : r));
    expect(back.map((r) => ({ user: r.user, answer: r.answer, ...(r.system ? { system: r.system } : {}) }))).toEqual(
      compact,
    );
    expect(imported.normalized).toBe(1);
  });
});
