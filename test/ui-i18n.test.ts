import { describe, expect, it } from 'vitest';
import {
  detectLang,
  formatBytes,
  formatDuration,
  formatLoss,
  formatNumber,
  formatRelativeTime,
  formatScientific,
  messages,
  placeholders,
  translate,
} from '../src/ui/shared/i18n.ts';

describe('dictionaries', () => {
  it('have the same keys in English and Chinese', () => {
    const en = Object.keys(messages.en).sort();
    const zh = Object.keys(messages.zh).sort();
    expect(zh).toEqual(en);
    expect(en.length).toBeGreaterThan(100);
  });

  it('use the same placeholders in both languages', () => {
    const mismatched = Object.keys(messages.en).filter(
      (k) =>
        placeholders(messages.en[k as keyof typeof messages.en]).join() !==
        placeholders(messages.zh[k as keyof typeof messages.zh]).join(),
    );
    expect(mismatched).toEqual([]);
  });

  it('has no empty translation', () => {
    for (const lang of ['en', 'zh'] as const) {
      const empty = Object.entries(messages[lang]).filter(([, v]) => v.trim() === '');
      expect(empty).toEqual([]);
    }
  });

  it('translates Chinese screens into Chinese characters', () => {
    // A Chinese dictionary that silently copies English would pass the key test; this catches it.
    const untranslated = Object.entries(messages.zh).filter(
      ([k, v]) => k.startsWith('train.') && k.endsWith('.help') && !/[\u4e00-\u9fff]/.test(v),
    );
    expect(untranslated).toEqual([]);
  });
});

describe('translate', () => {
  it('fills placeholders', () => {
    expect(translate('en', 'train.step', { step: 3, total: 40 })).toBe('Step 3 of 40');
    expect(translate('zh', 'train.step', { step: 3, total: 40 })).toBe('第 3 / 40 步');
  });

  it('leaves a missing placeholder visible', () => {
    expect(translate('en', 'train.step', { step: 3 })).toBe('Step 3 of {total}');
  });

  it('does not read JSON braces as placeholders', () => {
    expect(placeholders(messages.en['data.help'])).toEqual([]);
  });
});

describe('detectLang', () => {
  it('prefers the stored choice', () => {
    expect(detectLang('zh', ['en-US'])).toBe('zh');
    expect(detectLang('en', ['zh-CN'])).toBe('en');
  });
  it('follows the browser otherwise', () => {
    expect(detectLang(null, ['zh-TW', 'en'])).toBe('zh');
    expect(detectLang(null, ['de-DE', 'en-GB'])).toBe('en');
    expect(detectLang('fr', ['fr-FR'])).toBe('en');
  });
});

describe('locale formatting', () => {
  it('groups digits per locale', () => {
    expect(formatNumber('en', 1234567)).toBe('1,234,567');
    expect(formatNumber('zh', 1234567)).toBe('1,234,567');
    expect(formatNumber('en', 2.345, 2)).toBe('2.35');
  });

  it('keeps four significant digits of a loss', () => {
    expect(formatLoss('en', 10.41234)).toBe('10.41');
    expect(formatLoss('en', 0.0123456)).toBe('0.01235');
  });

  it('writes learning rates in scientific notation', () => {
    expect(formatScientific('en', 1e-4)).toBe('1E-4');
    expect(formatScientific('en', 0.00025)).toBe('2.5E-4');
  });

  it('formats bytes in decimal units', () => {
    expect(formatBytes('en', 512)).toBe('512 B');
    expect(formatBytes('en', 1536)).toBe('1.5 KB');
    expect(formatBytes('en', 988_000_000)).toBe('988 MB');
    expect(formatBytes('en', 2_500_000_000)).toBe('2.5 GB');
  });

  it('formats durations with the locale’s units', () => {
    expect(formatDuration('en', 125)).toBe('2 min 5 sec');
    expect(formatDuration('zh', 125)).toBe('2分钟5秒');
    expect(formatDuration('en', 3 * 3600 + 60 * 4 + 9)).toBe('3 hr 4 min');
    expect(formatDuration('en', Number.NaN)).toBe('–');
  });

  it('says how long ago', () => {
    const now = Date.UTC(2024, 0, 1);
    expect(formatRelativeTime('en', now - 3 * 60_000, now)).toBe('3 minutes ago');
    expect(formatRelativeTime('zh', now - 2 * 3600_000, now)).toBe('2小时前');
  });
});

describe('plurals', () => {
  it('pick the form of the count in each language', () => {
    expect(translate('en', 'data.loadedFrom', { name: 'a.json', rows: 1, format: 'seed' })).toBe(
      'a.json: 1 row (seed)',
    );
    expect(translate('en', 'data.loadedFrom', { name: 'a.json', rows: '1,000', format: 'seed' })).toBe(
      'a.json: 1,000 rows (seed)',
    );
    expect(translate('en', 'data.issues', { count: 1, name: 'a.json' })).toBe('1 problem in a.json');
    expect(translate('en', 'data.issues', { count: 3, name: 'a.json' })).toBe('3 problems in a.json');
    expect(translate('en', 'data.importGood', { rows: 1 })).toBe('Import the 1 good row');
    expect(translate('zh', 'data.loadedFrom', { name: 'a.json', rows: 1, format: 'seed' })).toBe(
      'a.json：1 行（seed）',
    );
  });

  it('count a plural block as its one placeholder', () => {
    expect(placeholders('{n, plural, one {# row was} other {# rows were}} in {name}')).toEqual(['n', 'name']);
  });
});
