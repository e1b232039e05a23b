// A model folder's tokenizer: tokenizer.json through @huggingface/tokenizers (the same BPE,
// normalizer and added-token splitting as the Rust library) and tokenizer_config.json's
// chat_template through @huggingface/jinja, so prompts are byte-identical to what
// transformers' apply_chat_template gives the Python trainer.

import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { TokenizerError } from '../core/errors.ts';
import { QWEN2_CHAT_TEMPLATE } from './qwen2-template.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
}

export interface RenderOptions {
  /** Append `<|im_start|>assistant\n` so the model answers next. */
  addGenerationPrompt: boolean;
}

export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';
export const END_OF_TEXT = '<|endoftext|>';

type Json = Record<string, unknown>;

function parseJson(what: string, src: string | object): Json {
  if (typeof src !== 'string') return src as Json;
  try {
    const v = JSON.parse(src);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Json;
  } catch (e) {
    throw new TokenizerError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

/** Special tokens in tokenizer_config.json are either strings or {content: string} objects. */
function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

export class ChatTokenizer {
  /** Ids that end an answer: `<|im_end|>` then `<|endoftext|>`, those the vocabulary has. */
  readonly eosTokenIds: number[];
  /** Highest token id + 1; a model's vocab_size must be at least this. */
  readonly vocabSize: number;
  readonly imStartId: number;
  readonly imEndId: number;
  /** `<|endoftext|>`, Qwen's padding token. */
  readonly endOfTextId: number;
  readonly chatTemplate: string;
  /** tokenizer.json's added tokens (control tokens, think tags...): text spelling one becomes that token. */
  addedTokens: readonly string[] = [];
  /**
   * Most bytes one token stands for (vocabulary keys are byte-level: one character a byte), so a
   * text of C characters has at least C / maxTokenBytes tokens: an over-long row is measured by
   * its length, without tokenizing it.
   */
  maxTokenBytes = 1;
  private readonly template: Template;

  private constructor(
    private readonly tok: Tokenizer,
    chatTemplate: string,
    private readonly config: Json,
    vocabSize: number,
  ) {
    this.vocabSize = vocabSize;
    this.imStartId = this.requireId(IM_START);
    this.imEndId = this.requireId(IM_END);
    this.endOfTextId = this.requireId(END_OF_TEXT);
    this.eosTokenIds = [this.imEndId, this.endOfTextId];
    this.chatTemplate = chatTemplate;
    try {
      this.template = new Template(chatTemplate);
    } catch (e) {
      throw new TokenizerError(`tokenizer_config.json: chat_template does not parse (${(e as Error).message})`);
    }
  }

  /**
   * tokenizer.json and tokenizer_config.json as text or parsed objects. A config without a
   * chat_template (or none at all) falls back to Qwen2.5's.
   */
  static fromJson(tokenizerJson: string | object, tokenizerConfigJson: string | object = {}): ChatTokenizer {
    const tj = parseJson('tokenizer.json', tokenizerJson);
    const cfg = parseJson('tokenizer_config.json', tokenizerConfigJson);
    const model = tj.model as { type?: unknown; vocab?: unknown } | undefined;
    if (!model || typeof model.vocab !== 'object' || model.vocab === null)
      throw new TokenizerError('tokenizer.json: field "model.vocab" is missing');
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tj, cfg);
    } catch (e) {
      throw new TokenizerError(`tokenizer.json: cannot build the tokenizer (${(e as Error).message})`);
    }
    let maxId = -1,
      maxBytes = 1;
    for (const [key, id] of Object.entries(model.vocab as Record<string, number>)) {
      maxId = Math.max(maxId, id);
      maxBytes = Math.max(maxBytes, key.length);
    }
    for (const t of (tj.added_tokens ?? []) as { id: number }[]) maxId = Math.max(maxId, t.id);
    const template = cfg.chat_template;
    if (template !== undefined && typeof template !== 'string')
      throw new TokenizerError(
        'tokenizer_config.json: field "chat_template" must be a string (named templates are not supported)',
      );
    const made = new ChatTokenizer(tok, template || QWEN2_CHAT_TEMPLATE, cfg, maxId + 1);
    for (const t of (tj.added_tokens ?? []) as { content?: string }[])
      maxBytes = Math.max(maxBytes, new TextEncoder().encode(t.content ?? '').length);
    made.maxTokenBytes = maxBytes;
    made.addedTokens = ((tj.added_tokens ?? []) as { content?: unknown }[])
      .map((t) => t.content)
      .filter((c): c is string => typeof c === 'string');
    return made;
  }

  /** Reads tokenizer.json (required) and tokenizer_config.json (optional) through `read`, which returns null when a file is absent. */
  static async fromFolder(read: (file: string) => Promise<string | null>): Promise<ChatTokenizer> {
    const tj = await read('tokenizer.json');
    if (tj === null) throw new TokenizerError('tokenizer.json: not found in the model folder');
    const cfg = await read('tokenizer_config.json');
    return ChatTokenizer.fromJson(tj, cfg ?? {});
  }

  private requireId(token: string): number {
    const id = this.tok.token_to_id(token);
    if (id === undefined)
      throw new TokenizerError(`tokenizer.json: the vocabulary has no ${token} token, which ChatML prompts need`);
    return id;
  }

  tokenId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** Token ids of `text` exactly: special tokens are recognised where the text spells them, nothing is added. */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    return this.tok.decode(Array.from(ids), {
      skip_special_tokens: opts.skipSpecial ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  renderChat(messages: ChatMessage[], opts: RenderOptions): string {
    if (messages.length === 0) throw new TokenizerError('renderChat: no messages to render');
    messages.forEach((m, i) => {
      if (typeof m.content !== 'string')
        throw new TokenizerError(`renderChat: message ${i} (${m.role}) has no text content`);
    });
    try {
      return this.template.render({
        messages,
        add_generation_prompt: opts.addGenerationPrompt,
        // Qwen3's hybrid templates then open the answer with an empty `<think>\n\n</think>\n\n`,
        // as they render a past answer without reasoning: Webtune trains and asks for answers
        // without thinking, so training and inference see the same prefix. Other templates ignore it.
        enable_thinking: false,
        bos_token: tokenString(this.config.bos_token) ?? '',
        eos_token: tokenString(this.config.eos_token) ?? IM_END,
      });
    } catch (e) {
      throw new TokenizerError(`chat_template: rendering failed (${(e as Error).message})`);
    }
  }
}
