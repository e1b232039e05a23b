// Picks and compiles the kernel build this runtime can run: shared memory when
// SharedArrayBuffer is there (Node, or a cross-origin-isolated page), else a private memory
// and one thread; relaxed SIMD (fused multiply-add) when the engine validates it.

import { EngineError } from '../../../core/errors.ts';
import * as builds from './kernels.wasm.ts';

/** A relaxed_madd on f32x4: the smallest module that only validates with relaxed SIMD. */
const RELAXED_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // magic, version
  0x01,
  0x05,
  0x01,
  0x60,
  0x00,
  0x01,
  0x7b, // type: () -> v128
  0x03,
  0x02,
  0x01,
  0x00, // one function of type 0
  0x0a,
  0x21,
  0x01,
  0x1f,
  0x00, // code: one body of 31 bytes, no locals
  0xfd,
  0x0c,
  ...new Array<number>(16).fill(0), // v128.const 0
  0x41,
  0x00,
  0xfd,
  0x11, // i32.const 0; f32x4.splat
  0x41,
  0x00,
  0xfd,
  0x11, // i32.const 0; f32x4.splat
  0xfd,
  0x85,
  0x02, // f32x4.relaxed_madd (0x105)
  0x0b,
]);

export interface KernelRuntime {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The memory's maximum in 64 KiB pages (4 GiB, or less where the address space is tight). */
  maxPages: number;
  shared: boolean;
  relaxed: boolean;
}

export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/**
 * Node 20's V8 implements relaxed SIMD behind a flag that later versions turn on by default;
 * turning it on before the first compile is what those versions do. Browsers: no-op.
 */
export async function enableRelaxedSimdInNode(): Promise<boolean> {
  if (relaxedSimdSupported()) return true;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) return false;
  try {
    const v8name = 'node:v8';
    const v8 = (await import(/* @vite-ignore */ v8name)) as { setFlagsFromString(flags: string): void };
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return relaxedSimdSupported();
}

/** Whether this runtime can run the kernels at all (WebAssembly SIMD128); else use the scalar CpuOps. */
export function simdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(decode(builds.privateSimd));
  } catch {
    return false;
  }
}

export function sharedMemorySupported(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const g = globalThis as { crossOriginIsolated?: boolean };
  if (g.crossOriginIsolated === false) return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const PAGE = 65536;
/** wasm32 addresses 4 GiB; the shared build declares this maximum, so the memory must too. */
const MAX_PAGES = 65536;

export async function loadKernels(opts: { shared?: boolean; relaxed?: boolean } = {}): Promise<KernelRuntime> {
  const shared = opts.shared ?? sharedMemorySupported();
  const relaxed = opts.relaxed ?? relaxedSimdSupported();
  if (shared && !sharedMemorySupported())
    throw new EngineError('fast CPU kernels: shared memory was asked for but SharedArrayBuffer is unavailable');
  if (relaxed && !relaxedSimdSupported())
    throw new EngineError('fast CPU kernels: relaxed SIMD was asked for but this WebAssembly engine lacks it');
  const bytes = decode(
    shared
      ? relaxed
        ? builds.sharedRelaxed
        : builds.sharedSimd
      : relaxed
        ? builds.privateRelaxed
        : builds.privateSimd,
  );
  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (e) {
    throw new EngineError(`fast CPU kernels: this browser cannot compile WebAssembly SIMD (${(e as Error).message})`);
  }
  // a shared memory reserves its maximum up front: where 4 GiB of address space is refused
  // (32-bit or constrained devices), settle for less rather than no fast engine
  for (const maxPages of [MAX_PAGES, MAX_PAGES / 4, MAX_PAGES / 16]) {
    try {
      const memory = new WebAssembly.Memory({ initial: 4, maximum: maxPages, shared });
      return { module, memory, maxPages, shared, relaxed };
    } catch {
      // try a smaller reservation
    }
  }
  throw new EngineError('fast CPU kernels: could not reserve even 256 MiB of WebAssembly memory');
}

export { PAGE, MAX_PAGES };
