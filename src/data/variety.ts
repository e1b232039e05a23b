// Variety for built rows: what people add around a command (fillers, politeness, particles),
// clauses in another order, and what speech recognition gets wrong (homophones and
// near-homophones, numbers as 两/二/2). Every change is made to a template's own words, never
// inside a filled-in value, so each value stays verbatim in its utterance and the call stays
// exactly right. Homophones come from pinyin-pro (pinyin of a pool of common characters,
// grouped by toneless pinyin; near: the initials and finals Southern speech merges).

import { pinyin } from 'pinyin-pro';
import type { SeededRng } from '../core/rng.ts';
import { parseTemplate } from './schema.ts';

export type VariantKind = 'filler' | 'polite' | 'particle' | 'reorder' | 'asr' | 'number';
export const VARIANT_KINDS: readonly VariantKind[] = ['filler', 'polite', 'particle', 'reorder', 'asr', 'number'];

interface Words {
  fillers: string[];
  before: string[];
  after: string[];
  particles: string[];
  comma: string;
}

const ZH: Words = {
  fillers: ['嗯，', '呃，', '那个，', '就是，', '啊，', '嗯那个，'],
  before: ['请', '麻烦', '劳驾', '帮忙', '麻烦你'],
  after: ['，谢谢', '，麻烦了', '，辛苦了', '，谢啦'],
  particles: ['吧', '啊', '呀', '哈', '啦', '嘛'],
  comma: '，',
};
const EN: Words = {
  fillers: ['um, ', 'uh, ', 'so, ', 'well, ', 'okay, '],
  before: ['please ', 'could you ', 'can you '],
  after: [', please', ', thanks', ' please', ', thank you'],
  particles: [' now', ' then', ' right away'],
  comma: ', ',
};

const HAN = /[\u4e00-\u9fff]/;

/** Common characters the homophone substitutions draw from. */
const POOL =
  '的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严会议屏幕录制麦克风静音邀请帮我';

/** Initials and finals a listener (or a recogniser) confuses: n/l, zh/z, ch/c, sh/s, -ng/-n. */
function near(p: string): string {
  return p
    .replace(/^zh/, 'z')
    .replace(/^ch/, 'c')
    .replace(/^sh/, 's')
    .replace(/^n(?=[aeiouv])/, 'l')
    .replace(/ng$/, 'n');
}

let homophones: { same: Map<string, string[]>; close: Map<string, string[]> } | null = null;
function table() {
  if (!homophones) {
    homophones = { same: new Map(), close: new Map() };
    for (const ch of new Set(POOL)) {
      const p = pinyin(ch, { toneType: 'none' });
      for (const [m, key] of [
        [homophones.same, p],
        [homophones.close, near(p)],
      ] as const)
        m.set(key, [...(m.get(key) ?? []), ch]);
    }
  }
  return homophones;
}

/** Characters that sound like ch: the same pinyin first, else a near one; none for a character outside Chinese. */
export function soundsLike(ch: string): string[] {
  if (!HAN.test(ch)) return [];
  const t = table(),
    p = pinyin(ch, { toneType: 'none' });
  const same = (t.same.get(p) ?? []).filter((c) => c !== ch);
  return same.length ? same : (t.close.get(near(p)) ?? []).filter((c) => c !== ch);
}

/** A filled template: its own words (changeable) and the values (never touched). */
export interface Segment {
  text: string;
  value: boolean;
}

export function segmentsOf(template: string, values: Record<string, string>): Segment[] {
  const parts = parseTemplate(template);
  if (typeof parts === 'string') return [{ text: template, value: false }];
  return parts.map((p) => (typeof p === 'string' ? { text: p, value: false } : { text: values[p.param], value: true }));
}

export const joinSegments = (s: readonly Segment[]) => s.map((x) => x.text).join('');

const pick = <T>(a: readonly T[], rng: SeededRng) => a[rng.int(a.length)];

/** Replaces one character of the template's words; null when none can change. */
function substitute(segs: Segment[], rng: SeededRng, options: (ch: string) => string[]): Segment[] | null {
  const spots: [number, number, string[]][] = [];
  segs.forEach((s, i) => {
    if (s.value) return;
    [...s.text].forEach((ch, k) => {
      const o = options(ch);
      if (o.length) spots.push([i, k, o]);
    });
  });
  if (!spots.length) return null;
  const [i, k, o] = pick(spots, rng);
  const chars = [...segs[i].text];
  chars[k] = pick(o, rng);
  return segs.map((s, j) => (j === i ? { ...s, text: chars.join('') } : s));
}

const NUMBERS: Record<string, string[]> = { 两: ['二', '2'], 二: ['两', '2'], '2': ['两', '二'] };

/** One variant of a filled template, or null when this kind does not apply to it. */
export function applyVariant(kind: VariantKind, segs: readonly Segment[], rng: SeededRng): Segment[] | null {
  const w = HAN.test(joinSegments(segs)) ? ZH : EN;
  const lit = (text: string): Segment => ({ text, value: false });
  switch (kind) {
    case 'filler':
      return [lit(pick(w.fillers, rng)), ...segs];
    case 'polite':
      return rng.int(2) ? [lit(pick(w.before, rng)), ...segs] : [...segs, lit(pick(w.after, rng))];
    case 'particle':
      return [...segs, lit(pick(w.particles, rng))];
    case 'reorder': {
      // "A，B" -> "B，A" at a comma of the template's own words.
      const at = segs.findIndex((s) => !s.value && s.text.includes(w.comma.trim()));
      if (at < 0) return null;
      const s = segs[at].text,
        c = s.indexOf(w.comma.trim());
      const head = [...segs.slice(0, at), lit(s.slice(0, c))],
        tail = [lit(s.slice(c + w.comma.trim().length).trimStart()), ...segs.slice(at + 1)];
      if (!joinSegments(head).trim() || !joinSegments(tail).trim()) return null;
      return [...tail, lit(w.comma), ...head];
    }
    case 'asr':
      return substitute([...segs], rng, soundsLike);
    case 'number':
      return substitute([...segs], rng, (ch) => NUMBERS[ch] ?? []);
  }
}
