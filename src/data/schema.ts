// Tool schema: the function-calling `tools` list Qwen's chat template and OpenAI take
// ({"type": "function", "function": {name, description, parameters: JSON Schema}}), plus per
// tool `templates` (utterances with {param} placeholders) and, at the top, `system` and
// `instruct`. parseToolSchema is pure: it returns a new schema or throws a SchemaError listing
// every problem, so a bad file never replaces the schema (or the data) the caller holds.
//
// Parameters are strings, as in the seed's calls; each may carry `enum` (the only values it
// may take) and `examples` (values the builder fills in). Calls are written the seed's way:
// {"tool_name": ..., "parameters": {...}}.

import { SchemaError, type SchemaIssue } from '../core/errors.ts';
import { duplicateKey } from './json-keys.ts';
import { MAX_NESTING, nestingDepth } from './json-items.ts';

export interface ToolParam {
  name: string;
  description?: string;
  required: boolean;
  /** The only values allowed, when given. */
  enum?: string[];
  /** Values to fill templates with (defaults to the enum). */
  examples?: string[];
  /**
   * `"x-source"`: "utterance" (the default for a string without enum) makes the value a verbatim
   * span of the user's utterance, which constrained decoding enforces; "free" turns that off
   * for values the model normalises (times, dates).
   */
  source?: 'utterance' | 'free';
}

/** A value copied verbatim from the utterance: a string without enum, unless x-source says "free". */
export function isSpanParam(p: ToolParam): boolean {
  return !p.enum && p.source !== 'free';
}

export interface ToolDef {
  name: string;
  description?: string;
  /** In the schema's property order, which is the order calls are written in. */
  params: ToolParam[];
  templates: string[];
}

export interface ToolSchema {
  /** System prompt of the rows built from this schema. */
  system?: string;
  /** Text before the utterance in the user turn (the seed's `instruct`). */
  instruct?: string;
  tools: ToolDef[];
}

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A template split into literal text and parameter names: "开{x}会" -> ["开", {param: "x"}, "会"]. */
export type TemplatePart = string | { param: string };

export function parseTemplate(t: string): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let i = 0;
  while (i < t.length) {
    const open = t.indexOf('{', i);
    const close = t.indexOf('}', i);
    if (close >= 0 && (open < 0 || close < open)) return `has a "}" without "{" at character ${close + 1}`;
    if (open < 0) {
      parts.push(t.slice(i));
      break;
    }
    if (open > i) parts.push(t.slice(i, open));
    const end = t.indexOf('}', open);
    if (end < 0) return `has a "{" without "}" at character ${open + 1}`;
    const name = t.slice(open + 1, end);
    if (!name || name.includes('{')) return `has an empty or nested placeholder at character ${open + 1}`;
    parts.push({ param: name });
    i = end + 1;
  }
  return parts;
}

/** The parameter names a template uses, in order, without repeats. */
export function templateParams(t: string): string[] {
  const parts = parseTemplate(t);
  if (typeof parts === 'string') return [];
  return [...new Set(parts.flatMap((p) => (typeof p === 'string' ? [] : [p.param])))];
}

export function fillTemplate(t: string, values: Record<string, string>): string {
  const parts = parseTemplate(t);
  if (typeof parts === 'string')
    throw new SchemaError('template', [{ field: 'templates', message: `${JSON.stringify(t)} ${parts}` }]);
  return parts.map((p) => (typeof p === 'string' ? p : values[p.param])).join('');
}

/** The values a parameter can be filled with: examples, else the enum. */
export function paramValues(p: ToolParam): string[] {
  return p.examples ?? p.enum ?? [];
}

function lineAt(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

class Checker {
  readonly issues: SchemaIssue[] = [];
  add(tool: string | undefined, field: string | undefined, message: string): void {
    this.issues.push({ ...(tool !== undefined ? { tool } : {}), ...(field ? { field } : {}), message });
  }

  /** A list of distinct non-empty strings; undefined (with an issue) when it is not one. */
  strings(tool: string, field: string, v: unknown, allowEmptyList: boolean): string[] | undefined {
    if (!Array.isArray(v)) return void this.add(tool, field, 'must be an array of strings');
    if (!v.length && !allowEmptyList) return void this.add(tool, field, 'is empty: give at least one value');
    let ok = true;
    const seen = new Set<string>();
    v.forEach((s, i) => {
      if (typeof s !== 'string' || !s) {
        ok = false;
        this.add(
          tool,
          `${field} item ${i + 1}`,
          typeof s === 'string' ? 'is an empty string' : `must be a string, got ${JSON.stringify(s)}`,
        );
      } else if (seen.has(s)) {
        ok = false;
        this.add(tool, `${field} item ${i + 1}`, `${JSON.stringify(s)} is listed twice`);
      } else seen.add(s);
    });
    return ok ? (v as string[]) : undefined;
  }
}

function optionalText(c: Checker, tool: string | undefined, field: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return void c.add(tool, field, 'must be a string');
  return v;
}

function parseParams(c: Checker, tool: string, raw: unknown): ToolParam[] | undefined {
  const F = 'function.parameters';
  if (raw === undefined) return [];
  if (!isObject(raw))
    return void c.add(tool, F, 'must be a JSON Schema object ({"type": "object", "properties": {...}})');
  if (raw.type !== undefined && raw.type !== 'object')
    c.add(tool, `${F}.type`, `must be "object", got ${JSON.stringify(raw.type)}`);
  const props = raw.properties ?? {};
  if (!isObject(props)) return void c.add(tool, `${F}.properties`, 'must be an object of parameter schemas');
  const params: ToolParam[] = [];
  for (const [name, p] of Object.entries(props)) {
    const f = `${F}.properties.${name}`;
    if (!name) {
      c.add(tool, `${F}.properties`, 'has a parameter with an empty name');
      continue;
    }
    if (!isObject(p)) {
      c.add(tool, f, 'must be an object ({"type": "string", ...})');
      continue;
    }
    if (p.type !== 'string')
      c.add(tool, `${f}.type`, `must be "string" (the only parameter type supported), got ${JSON.stringify(p.type)}`);
    const param: ToolParam = { name, required: false };
    const description = optionalText(c, tool, `${f}.description`, p.description);
    if (description !== undefined) param.description = description;
    if (p.enum !== undefined) param.enum = c.strings(tool, `${f}.enum`, p.enum, false);
    if (p.examples !== undefined) param.examples = c.strings(tool, `${f}.examples`, p.examples, false);
    const src = p['x-source'];
    if (src !== undefined) {
      if (src !== 'utterance' && src !== 'free')
        c.add(
          tool,
          `${f}.x-source`,
          `must be "utterance" (a verbatim span of the utterance) or "free", got ${JSON.stringify(src)}`,
        );
      else if (src === 'utterance' && p.enum !== undefined)
        c.add(
          tool,
          `${f}.x-source`,
          'is "utterance", but the parameter has an enum: a value is one of the enum instead',
        );
      else param.source = src;
    }
    if (param.enum && param.examples) {
      param.examples.forEach((x, i) => {
        if (!param.enum!.includes(x))
          c.add(tool, `${f}.examples item ${i + 1}`, `${JSON.stringify(x)} is not one of the enum values`);
      });
    }
    params.push(param);
  }
  if (raw.required !== undefined) {
    const req = c.strings(tool, `${F}.required`, raw.required, true);
    req?.forEach((r, i) => {
      const p = params.find((x) => x.name === r);
      if (p) p.required = true;
      else if (!Object.hasOwn(props, r))
        c.add(tool, `${F}.required item ${i + 1}`, `names "${r}", which is not in properties`);
    });
  }
  return params;
}

function parseTemplates(c: Checker, tool: string, raw: unknown, params: ToolParam[]): string[] {
  if (raw === undefined) return [];
  const list = c.strings(tool, 'templates', raw, true);
  if (!list) return [];
  list.forEach((t, i) => {
    const f = `template ${i + 1}`;
    const parts = parseTemplate(t);
    if (typeof parts === 'string') return c.add(tool, f, `${JSON.stringify(t)} ${parts}`);
    const used = templateParams(t);
    for (const u of used) {
      const p = params.find((x) => x.name === u);
      if (!p)
        c.add(
          tool,
          f,
          `${JSON.stringify(t)} names {${u}}, which is not a parameter of this tool (${params.map((x) => x.name).join(', ') || 'it has none'})`,
        );
      else if (!paramValues(p).length)
        c.add(
          tool,
          f,
          `${JSON.stringify(t)} names {${u}}, which has no values to fill in: give it "examples" or "enum"`,
        );
    }
    for (const p of params)
      if (p.required && !used.includes(p.name))
        c.add(tool, f, `${JSON.stringify(t)} leaves out the required parameter {${p.name}}`);
    if (!parts.some((x) => typeof x === 'string' && x.trim()))
      c.add(tool, f, `${JSON.stringify(t)} has no words of its own`);
  });
  return list;
}

/** Parses and checks a schema (text or parsed JSON). Throws SchemaError with every problem. */
/** The line where `src` first nests deeper than MAX_NESTING, or 0. */
function deepestLine(src: string): number {
  if (nestingDepth(src) <= MAX_NESTING) return 0;
  let lo = 0,
    hi = src.length;
  // The shortest prefix that is too deep ends on that line.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (nestingDepth(src.slice(0, mid + 1)) > MAX_NESTING) hi = mid;
    else lo = mid + 1;
  }
  return lineAt(src, lo);
}

export function parseToolSchema(src: string | unknown, file = 'schema'): ToolSchema {
  let v: unknown = src;
  if (typeof src === 'string') {
    // Walking a 100k-deep value would overflow the stack: refused as text, with the line it gets too deep on.
    const deep = deepestLine(src);
    if (deep)
      throw new SchemaError(file, [
        { line: deep, message: `nests deeper than ${MAX_NESTING} levels of [ ] and { }; a tool schema needs a few` },
      ]);
    try {
      v = JSON.parse(src.replace(/^\uFEFF/, ''));
    } catch (e) {
      const msg = (e as Error).message;
      const pos = /position (\d+)/.exec(msg);
      // A cut-off file has no position: its problem is on the last line.
      const line = pos
        ? lineAt(src, Number(pos[1]))
        : /end of JSON input/.test(msg)
          ? lineAt(src, src.trimEnd().length)
          : undefined;
      throw new SchemaError(file, [{ ...(line !== undefined ? { line } : {}), message: `not valid JSON (${msg})` }]);
    }
  }
  const c = new Checker();
  // A bare tools array (what an OpenAI request carries) is a schema without system and instruct.
  const top: Obj = Array.isArray(v) ? { tools: v } : isObject(v) ? v : {};
  if (!Array.isArray(v) && !isObject(v))
    throw new SchemaError(file, [{ message: 'must be a JSON object with "tools" (or a tools array)' }]);
  const system = optionalText(c, undefined, 'system', top.system);
  const instruct = optionalText(c, undefined, 'instruct', top.instruct);
  const tools: ToolDef[] = [];
  if (!Array.isArray(top.tools))
    c.add(undefined, 'tools', top.tools === undefined ? 'is missing' : 'must be an array of tools');
  else if (!top.tools.length) c.add(undefined, 'tools', 'is empty: give at least one tool');
  else {
    const names = new Map<string, number>();
    top.tools.forEach((t, i) => {
      const place = `tool ${i + 1}`;
      if (!isObject(t)) return c.add(place, undefined, 'must be an object ({"type": "function", "function": {...}})');
      if (t.type !== undefined && t.type !== 'function')
        c.add(place, 'type', `must be "function", got ${JSON.stringify(t.type)}`);
      const fn = t.function;
      if (!isObject(fn)) return c.add(place, 'function', 'is missing or not an object');
      const name = fn.name;
      if (typeof name !== 'string' || !name.trim()) return c.add(place, 'function.name', 'must be a non-empty string');
      if (names.has(name))
        c.add(
          name,
          'function.name',
          `is used by tool ${names.get(name)! + 1} and tool ${i + 1}: tool names must be unique`,
        );
      else names.set(name, i);
      const description = optionalText(c, name, 'function.description', fn.description);
      const params = parseParams(c, name, fn.parameters);
      const templates = params ? parseTemplates(c, name, t.templates, params) : [];
      tools.push({ name, ...(description !== undefined ? { description } : {}), params: params ?? [], templates });
    });
  }
  if (c.issues.length) throw new SchemaError(file, c.issues);
  return { ...(system !== undefined ? { system } : {}), ...(instruct !== undefined ? { instruct } : {}), tools };
}

/** The schema in its file format (the inverse of parseToolSchema). */
export function toolSchemaJson(s: ToolSchema): Obj {
  const tools = s.tools.map((t) => {
    const properties: Obj = {};
    for (const p of t.params) {
      properties[p.name] = {
        type: 'string',
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.enum ? { enum: p.enum } : {}),
        ...(p.examples ? { examples: p.examples } : {}),
        ...(p.source ? { 'x-source': p.source } : {}),
      };
    }
    return {
      type: 'function',
      function: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        parameters: { type: 'object', properties, required: t.params.filter((p) => p.required).map((p) => p.name) },
      },
      templates: t.templates,
    };
  });
  return {
    ...(s.system !== undefined ? { system: s.system } : {}),
    ...(s.instruct !== undefined ? { instruct: s.instruct } : {}),
    tools,
  };
}

export function formatToolSchema(s: ToolSchema): string {
  return JSON.stringify(toolSchemaJson(s), null, 2) + '\n';
}

/**
 * Why a call does not fit the schema (empty when it does): tool known, no unknown or missing
 * parameters, strings only, non-empty, enum respected.
 */
export function callProblems(schema: ToolSchema, call: unknown): string[] {
  if (!isObject(call)) return ['the call is not a JSON object'];
  const extra = Object.keys(call).filter((k) => k !== 'tool_name' && k !== 'parameters');
  const out = extra.map((k) => `unknown key "${k}" next to tool_name and parameters`);
  const tool = schema.tools.find((t) => t.name === call.tool_name);
  if (!tool) return [...out, `tool_name ${JSON.stringify(call.tool_name)} is not a tool of the schema`];
  const params = call.parameters;
  if (!isObject(params)) return [...out, `parameters of ${tool.name} must be an object`];
  for (const [k, v] of Object.entries(params)) {
    const p = tool.params.find((x) => x.name === k);
    if (!p) out.push(`${tool.name} has no parameter "${k}"`);
    else if (typeof v !== 'string') out.push(`${tool.name}.${k} must be a string, got ${JSON.stringify(v)}`);
    else if (!v) out.push(`${tool.name}.${k} is empty`);
    else if (p.enum && !p.enum.includes(v))
      out.push(
        `${tool.name}.${k} = ${JSON.stringify(v)} is not one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}`,
      );
  }
  for (const p of tool.params)
    if (p.required && !Object.hasOwn(params, p.name))
      out.push(`${tool.name} is missing the required parameter "${p.name}"`);
  return out;
}

/** The utterance in a user turn built from this schema: the text after its instruct (span values come from here). */
export function utteranceOf(schema: Pick<ToolSchema, 'instruct'>, user: string): string {
  return schema.instruct && user.startsWith(schema.instruct) ? user.slice(schema.instruct.length) : user;
}

/** callProblems of generated text: it must be exactly one JSON call (surrounding whitespace aside). */
export function textCallProblems(schema: ToolSchema, text: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text.trim());
  } catch {
    return ['not valid JSON'];
  }
  // JSON.parse keeps the last of a repeated key: the text must be checked, not the value.
  const dup = duplicateKey(text);
  if (dup !== null) return [`the key ${JSON.stringify(dup)} appears twice in one object`];
  return callProblems(schema, v);
}
