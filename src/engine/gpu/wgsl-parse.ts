// What the host reads from WGSL text: the Params uniform's fields, the bindings with their
// access mode, and which bindings an entry point uses (itself or through the functions it
// calls), so each pipeline's bind group layout lists exactly those.

import { EngineError } from '../../core/errors.ts';

export interface ParamField {
  name: string;
  type: 'u32' | 'i32' | 'f32';
}

export interface BindingInfo {
  name: string;
  binding: number;
  kind: 'uniform' | 'read' | 'read_write';
}

export function parseParams(file: string, text: string): ParamField[] {
  const m = /struct\s+Params\s*\{([^}]*)\}/.exec(stripComments(text));
  if (!m) throw new EngineError(`shaders/${file}.wgsl: no "struct Params"`);
  return m[1]
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => {
      const [name, type] = f.split(':').map((s) => s.trim());
      if (type !== 'u32' && type !== 'i32' && type !== 'f32')
        throw new EngineError(`shaders/${file}.wgsl: Params.${name} has type ${type}; only u32, i32, f32 are packed`);
      return { name, type };
    });
}

export function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
}

export function parseBindings(text: string): Map<string, BindingInfo> {
  const out = new Map<string, BindingInfo>();
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage)\s*(?:,\s*(read|read_write))?\s*>\s*(\w+)/g;
  for (const m of stripComments(text).matchAll(re)) {
    const kind = m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'read_write' : 'read';
    out.set(m[4], { name: m[4], binding: Number(m[1]), kind });
  }
  return out;
}

/**
 * Function name -> the free identifiers its body mentions: member names (`.x`), parameters and
 * names declared inside the function (let/var/const) are left out, since they shadow bindings.
 */
function functionBodies(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const re = /\bfn\s+(\w+)\s*\(/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const open = text.indexOf('{', re.lastIndex);
    if (open < 0) break;
    let depth = 0,
      i = open;
    for (; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) break;
    }
    const signature = text.slice(re.lastIndex, open),
      body = text.slice(open, i);
    const local = new Set<string>();
    for (const p of signature.matchAll(/(\w+)\s*:/g)) local.add(p[1]);
    for (const d of body.matchAll(/\b(?:let|var|const)\s+(\w+)/g)) local.add(d[1]);
    const ids = new Set<string>();
    for (const id of body.matchAll(/(?<![.\w])([A-Za-z_]\w*)\b/g)) if (!local.has(id[1])) ids.add(id[1]);
    out.set(m[1], ids);
    re.lastIndex = i;
  }
  return out;
}

/** Every function and free identifier `entry` reaches, directly or through the functions it calls. */
export function entryClosure(code: string, entry: string): Set<string> {
  const bodies = functionBodies(stripComments(code));
  const seen = new Set<string>([entry]);
  const todo = [entry];
  while (todo.length) {
    for (const id of bodies.get(todo.pop()!) ?? []) {
      if (seen.has(id)) continue;
      seen.add(id);
      if (bodies.has(id)) todo.push(id);
    }
  }
  return seen;
}

/** The bindings `entry` reads or writes, directly or through called functions, by binding index. */
export function entryBindings(code: string, entry: string, bindings: Map<string, BindingInfo>): BindingInfo[] {
  const reached = entryClosure(code, entry);
  return [...bindings.values()].filter((b) => reached.has(b.name)).sort((a, b) => a.binding - b.binding);
}
