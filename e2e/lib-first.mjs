// Shared by the first-use flows (app-first-*.mjs, issue 14): per-point checks that all run before
// a session fails, the files a user would import, and a model that only ever answers line breaks.

import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assert, text } from './lib-app.mjs';

export const STEPS = ['model', 'data', 'train', 'eval', 'chat', 'export'];
export const stepOf = async (page) => Number(/(\d+) (?:of|\/)/.exec(await text(page, 'train-step'))?.[1] ?? 0);
export const num = (s) => Number(String(s).replace(/[,\s]/g, ''));

/** Runs every check of a session and fails at the end naming the points that did not hold. */
export function checker(ctx) {
  const failed = [];
  return {
    async check(point, what, fn) {
      try {
        await fn();
        ctx.log(`✓ point ${point}: ${what}`);
      } catch (e) {
        const msg = (e?.message ?? String(e)).split('\n')[0];
        failed.push(`point ${point}: ${what}: ${msg}`);
        ctx.log(`✗ point ${point}: ${what}: ${msg}`);
      }
    },
    done() {
      if (failed.length) throw new Error(`${failed.length} check(s) failed:\n${failed.join('\n')}`);
    },
  };
}

const call = (tool, parameters = {}) => ({ tool_name: tool, parameters });
const seedRow = (input, output) => ({ instruct: '请将以下会议语音指令转换为工具调用JSON：', input, output });

/** Files a user would have: ten rows of intents the sample has never seen, and partly bad ones. */
export function dataFiles() {
  const dir = mkdtempSync(join(tmpdir(), 'webtune-first-'));
  const write = (name, lines) => {
    const path = join(dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  };
  const whiteboard = Array.from({ length: 10 }, (_, i) =>
    JSON.stringify(
      seedRow(
        `打开白板${i + 1}号`,
        i % 2 ? call('OPEN_WHITEBOARD', { board: `${i + 1}号` }) : call('CLOSE_WHITEBOARD'),
      ),
    ),
  );
  return {
    whiteboard: write('whiteboard.jsonl', whiteboard),
    // 3 bad rows of 4, one of them with the typo "ouput".
    partial: write('partial.jsonl', [
      JSON.stringify(seedRow('结束会议', call('END_MEETING'))),
      JSON.stringify({ instruct: 'x', input: '静音', ouput: call('MUTE_MICROPHONE') }),
      'this is not JSON',
      JSON.stringify({ instruct: 'x', input: 5, output: 'ok' }),
    ]),
    oneBad: write('one-bad.jsonl', [JSON.stringify(seedRow('开始录制', call('START_RECORDING'))), '{"broken": ']),
    hopeless: write('hopeless.jsonl', ['{"instruct": "x", "input": "no output"}', 'this is not JSON']),
  };
}

/**
 * The tiny model changed so that it always answers with line breaks: every embedding's first
 * component is about 4 (the newline token's a little larger) and the final norm keeps only that
 * component, so the newline's logit is the largest whatever the layers add.
 */
export function newlineModel(distDir) {
  const dir = join(mkdtempSync(join(tmpdir(), 'webtune-newline-')), 'newline-model');
  cpSync(join(distDir, 'models/tiny'), dir, { recursive: true });
  const path = join(dir, 'model.safetensors');
  const bytes = new Uint8Array(readFileSync(path));
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const base = 8 + n;
  const bf16 = (x) => new DataView(new Float32Array([x]).buffer).getUint32(0, true) >>> 16;
  const tok = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const newline = tok.model.vocab['Ċ'];
  const emb = header['model.embed_tokens.weight'];
  assert.equal(emb.dtype, 'BF16');
  const [vocab, hidden] = emb.shape;
  for (let v = 0; v < vocab; v++)
    view.setUint16(base + emb.data_offsets[0] + v * hidden * 2, v === newline ? bf16(4) : bf16(3.9), true);
  const norm = header['model.norm.weight'];
  for (let i = 0; i < hidden; i++) view.setUint16(base + norm.data_offsets[0] + i * 2, i === 0 ? bf16(1) : 0, true);
  writeFileSync(path, bytes);
  return dir;
}
