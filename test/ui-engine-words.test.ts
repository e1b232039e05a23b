// Words that arrive from lower layers in English (the CPU engine's thread count, a dataset's
// format) are said in the page's language (issue 22, defect 7).
import { describe, expect, it } from 'vitest';
import { DATASET_FORMATS } from '../src/data/dataset.ts';
import { formatName } from '../src/ui/data/issue-text.ts';
import { engineLabel, headerEngine } from '../src/ui/model/engine-view.ts';
import { initialState, type AppState } from '../src/ui/app/state.ts';
import { translator } from '../src/ui/shared/i18n.ts';

const zh = translator('zh');
const en = translator('en');
const cpu = { kind: 'cpu' as const, device: 'CPU (WebAssembly SIMD + FMA, 2 threads)', threads: 2 };

describe('engine words', () => {
  it('says the thread count in Chinese and keeps it in English', () => {
    expect(engineLabel(cpu, zh)).toBe('CPU (WebAssembly SIMD + FMA, 2 个线程)');
    expect(engineLabel(cpu, en)).toBe(cpu.device);
    expect(engineLabel({ ...cpu, device: 'CPU (WebAssembly SIMD, 1 thread)' }, en)).toBe(
      'CPU (WebAssembly SIMD, 1 thread)',
    );
  });

  it('keeps the header badge short, the long description in its tooltip', () => {
    const base = initialState('zh');
    const summary = {
      engine: { ...cpu, features: [], maxBufferSize: Infinity, maxBindingSize: Infinity },
      engineDecision: { kind: 'cpu', reason: 'software', software: 'SwiftShader' },
    };
    const s = { ...base, lang: 'zh', model: { ...base.model, status: 'ready', summary } } as unknown as AppState;
    const b = headerEngine(zh, s)!;
    expect(b.text).toBe(`CPU · 2 个线程 · ${zh('engine.short.software')}`);
    expect(b.title).toContain('2 个线程');
    expect(b.text).not.toMatch(/[a-z]{4,}/); // no English word in the Chinese badge
    const e = headerEngine(en, { ...s, lang: 'en' } as AppState)!;
    expect(e.text).toBe('CPU · 2 threads · faster than software WebGPU');
    expect(e.text.length).toBeLessThan(50); // the long form ("CPU (WebAssembly SIMD + FMA, …) · …") was cut at 1280 px
  });
});

describe('dataset format names', () => {
  it('names every format in both languages, without the internal word "seed" in Chinese', () => {
    for (const f of DATASET_FORMATS) {
      expect(formatName(en, f)).not.toMatch(/^data\./);
      expect(formatName(zh, f)).toMatch(/格式$/);
    }
    expect(formatName(zh, 'seed')).not.toMatch(/seed/);
    expect(formatName(zh, 'other')).toBe('other');
  });
});
