// The tool schema as the Data step's editor holds it: plain strings per field (values and
// templates one per line), so any half-typed state can sit in the store. Applying turns the
// form into the schema file format and parses it; a form that does not parse leaves the schema
// in use, and the data built from it, as they were.

import { parseToolSchema, toolSchemaJson, type ToolSchema } from '../../data/schema.ts';

export interface ParamForm {
  name: string;
  description: string;
  required: boolean;
  /** The values are the only ones allowed (enum), not just examples to fill in. */
  isEnum: boolean;
  /** One value per line. */
  values: string;
  /** x-source "free": a value the model normalises, not a span of the utterance (kept through the form). */
  free?: boolean;
}

export interface ToolForm {
  name: string;
  description: string;
  params: ParamForm[];
  /** One template per line. */
  templates: string;
}

export interface SchemaForm {
  system: string;
  instruct: string;
  tools: ToolForm[];
}

const lines = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

export function formOf(s: ToolSchema): SchemaForm {
  return {
    system: s.system ?? '',
    instruct: s.instruct ?? '',
    tools: s.tools.map((t) => ({
      name: t.name,
      description: t.description ?? '',
      templates: t.templates.join('\n'),
      params: t.params.map((p) => ({
        name: p.name,
        description: p.description ?? '',
        required: p.required,
        isEnum: !!p.enum,
        values: (p.enum ?? p.examples ?? []).join('\n'),
        ...(p.source === 'free' ? { free: true } : {}),
      })),
    })),
  };
}

/** The form in the schema file format (what export writes and import reads). */
export function rawOf(f: SchemaForm): Record<string, unknown> {
  return {
    ...(f.system ? { system: f.system } : {}),
    ...(f.instruct ? { instruct: f.instruct } : {}),
    tools: f.tools.map((t) => {
      const properties: Record<string, unknown> = {};
      for (const p of t.params) {
        const values = lines(p.values);
        properties[p.name.trim()] = {
          type: 'string',
          ...(p.description.trim() ? { description: p.description.trim() } : {}),
          ...(p.isEnum ? { enum: values } : values.length ? { examples: values } : {}),
          ...(p.free && !p.isEnum ? { 'x-source': 'free' } : {}),
        };
      }
      return {
        type: 'function',
        function: {
          name: t.name.trim(),
          ...(t.description.trim() ? { description: t.description.trim() } : {}),
          parameters: {
            type: 'object',
            properties,
            required: t.params.filter((p) => p.required).map((p) => p.name.trim()),
          },
        },
        templates: lines(t.templates),
      };
    }),
  };
}

/** Parses the form: the schema, or a SchemaError naming each problem's tool and field. */
export function schemaOf(f: SchemaForm, name = 'schema'): ToolSchema {
  return parseToolSchema(rawOf(f), name);
}

export function schemaText(s: ToolSchema): string {
  return JSON.stringify(toolSchemaJson(s), null, 2) + '\n';
}

/** Edits the component dispatches as a whole new form: pure, the old form untouched. */
export const edit = {
  top: (f: SchemaForm, patch: Partial<Pick<SchemaForm, 'system' | 'instruct'>>): SchemaForm => ({ ...f, ...patch }),
  tool: (f: SchemaForm, i: number, patch: Partial<Omit<ToolForm, 'params'>>): SchemaForm => ({
    ...f,
    tools: f.tools.map((t, k) => (k === i ? { ...t, ...patch } : t)),
  }),
  addTool: (f: SchemaForm): SchemaForm => ({
    ...f,
    tools: [...f.tools, { name: `TOOL_${f.tools.length + 1}`, description: '', params: [], templates: '' }],
  }),
  removeTool: (f: SchemaForm, i: number): SchemaForm => ({ ...f, tools: f.tools.filter((_, k) => k !== i) }),
  param: (f: SchemaForm, i: number, j: number, patch: Partial<ParamForm>): SchemaForm => ({
    ...f,
    tools: f.tools.map((t, k) =>
      k === i ? { ...t, params: t.params.map((p, m) => (m === j ? { ...p, ...patch } : p)) } : t,
    ),
  }),
  addParam: (f: SchemaForm, i: number): SchemaForm => ({
    ...f,
    tools: f.tools.map((t, k) =>
      k === i
        ? {
            ...t,
            params: [
              ...t.params,
              { name: `param_${t.params.length + 1}`, description: '', required: true, isEnum: false, values: '' },
            ],
          }
        : t,
    ),
  }),
  removeParam: (f: SchemaForm, i: number, j: number): SchemaForm => ({
    ...f,
    tools: f.tools.map((t, k) => (k === i ? { ...t, params: t.params.filter((_, m) => m !== j) } : t)),
  }),
};
