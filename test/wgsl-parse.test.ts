// What the host reads from WGSL to lay out bind groups: each entry point's bindings, found
// through the functions it calls, with parameters and locals that share a binding's name
// (common.wgsl's hash32(a, b) beside lora.wgsl's bindings a and b) left out.

import { describe, expect, it } from 'vitest';
import { entryBindings, parseBindings, parseParams } from '../src/engine/gpu/wgsl-parse.ts';

const code = `
struct Params { n: u32, scale: f32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage> c: array<f32>; // read, the default
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
fn mix(a: u32, b: u32) -> u32 { return a ^ b; } // parameters named like bindings
fn load(i: u32) -> f32 { let out = c[i]; return out * P.scale; } // a local named like one
@compute @workgroup_size(64) fn first(@builtin(global_invocation_id) g: vec3<u32>) { out[g.x] = load(mix(g.x, 3u)); }
@compute @workgroup_size(64) fn second(@builtin(global_invocation_id) g: vec3<u32>) { b[g.x] = a[g.x] + f32(g.y); }
`;

describe('WGSL bindings per entry point', () => {
  const bindings = parseBindings(code);

  it('reads the access mode of every binding', () => {
    expect([...bindings.values()].map((b) => `${b.binding}:${b.name}:${b.kind}`)).toEqual([
      '0:P:uniform',
      '1:a:read',
      '2:b:read_write',
      '3:c:read',
      '4:out:read_write',
    ]);
  });

  it('follows calls and ignores parameters, locals and member names', () => {
    expect(entryBindings(code, 'first', bindings).map((b) => b.name)).toEqual(['P', 'c', 'out']);
    expect(entryBindings(code, 'second', bindings).map((b) => b.name)).toEqual(['a', 'b']);
  });

  it('parses the Params fields in order', () => {
    expect(parseParams('x', code)).toEqual([
      { name: 'n', type: 'u32' },
      { name: 'scale', type: 'f32' },
    ]);
  });
});
