// Words of the page that were English or out of date in Chinese (issue 22, point 7): the
// subtitle names both model families, and the engine's reason says a nameless fallback adapter
// in the page's language.
import { describe, expect, it } from 'vitest';
import { translator } from '../src/ui/shared/i18n.ts';
import { engineWhy } from '../src/ui/model/engine-view.ts';

describe('page words', () => {
  it('the subtitle names Qwen2.5 and Qwen3 in both languages', () => {
    for (const lang of ['en', 'zh'] as const) expect(translator(lang)('app.tagline')).toMatch(/Qwen2\.5.*Qwen3/);
  });

  it('a nameless fallback adapter is said in Chinese on the Chinese page', () => {
    const d = { kind: 'cpu' as const, reason: 'software' as const, adapter: 'x', software: 'a fallback adapter' };
    const zh = engineWhy(translator('zh'), 'zh', d);
    expect(zh).not.toMatch(/fallback/);
    expect(zh).toContain(translator('zh')('engine.fallbackAdapter'));
    expect(engineWhy(translator('en'), 'en', d)).toContain('a fallback adapter');
  });
});

describe('the way out of a failed download', () => {
  it('names the other ways to the model: ModelScope for a Hugging Face failure, never for a ModelScope one', async () => {
    const { wayOutKey } = await import('../src/ui/app/state.ts');
    const err = (via: string) => ({
      where: 'model' as const,
      key: 'model.failed' as const,
      detail: '',
      net: { kind: 'network' as const, file: 'config.json' },
      via,
    });
    for (const lang of ['en', 'zh'] as const) {
      const t = translator(lang);
      expect(t(wayOutKey(err('hf'))!)).toMatch(/ModelScope/);
      expect(t(wayOutKey(err('modelscope'))!)).not.toMatch(/ModelScope|魔搭/);
      expect(t(wayOutKey(err('modelscope'))!)).toMatch(/Hugging Face/);
    }
    expect(wayOutKey({ where: 'model', key: 'model.failed', detail: 'bad config' })).toBeUndefined();
  });
});
