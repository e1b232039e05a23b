// Helpers shared by the app flows: navigation, waiting on the app's own status elements, and
// independent parsers (safetensors header, zip, GGUF header) for checking downloaded files.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';

export { assert };

export async function go(page, screen) {
  await page.locator(`nav button[data-screen="${screen}"]`).click();
  await page.locator(`[aria-current="step"][data-screen="${screen}"]`).waitFor();
}

export async function waitForModel(page, timeout = 120_000) {
  await page.locator('[data-testid="model-ready"]').waitFor({ timeout });
}

/** Waits until fn(page) is truthy, polling; fails with `what` in the message. */
export async function until(what, fn, timeout = 120_000, every = 250) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
      );
    await new Promise((r) => setTimeout(r, every));
  }
}

export async function text(page, testId) {
  return (await page.locator(`[data-testid="${testId}"]`).first().textContent())?.trim() ?? '';
}

/** The train loss curve as drawn: pixel points of the SVG path (y grows downwards). */
export async function chartPoints(page) {
  const d = await page.locator('wt-loss-chart path.train').getAttribute('d');
  return [...(d ?? '').matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]) }));
}

export async function setNumber(page, name, value) {
  const input = page.locator(`wt-train-panel input[name="${name}"]`);
  await input.fill(String(value));
  await input.dispatchEvent('change');
}

export async function downloadOf(page, click) {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), click()]);
  const path = await download.path();
  return { name: download.suggestedFilename(), bytes: new Uint8Array(readFileSync(path)) };
}

export function unzip(bytes) {
  return unzipSync(bytes);
}

/** safetensors header, parsed here without the app's code: u64 length, then JSON. */
export function safetensorsHeader(bytes) {
  assert.ok(bytes.length >= 8, 'safetensors file shorter than its length prefix');
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  assert.ok(8 + n <= bytes.length, `header length ${n} runs past the ${bytes.length}-byte file`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const dataLen = bytes.length - 8 - n;
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    assert.ok(a <= b && b <= dataLen, `${name}: offsets ${a}-${b} outside the ${dataLen} data bytes`);
    const width = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 }[t.dtype];
    assert.equal(
      b - a,
      t.shape.reduce((x, y) => x * y, 1) * width,
      `${name}: byte size does not match shape ${t.shape}`,
    );
  }
  return header;
}

/** GGUF v3 fixed header: magic, version, tensor count, metadata count. */
export function ggufHeader(bytes) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    magic: new TextDecoder().decode(bytes.subarray(0, 4)),
    version: v.getUint32(4, true),
    tensors: Number(v.getBigUint64(8, true)),
    metadata: Number(v.getBigUint64(16, true)),
  };
}

export function tinyConfig(distDir) {
  return JSON.parse(readFileSync(join(distDir, 'models/tiny/config.json'), 'utf8'));
}

export function tinyModelHeader(distDir) {
  return safetensorsHeader(new Uint8Array(readFileSync(join(distDir, 'models/tiny/model.safetensors'))));
}

/** The Data step with the shipped meeting schema applied; returns the schema editor. */
export async function openSampleSchema(page) {
  await go(page, 'data');
  const editor = page.locator('wt-schema-editor');
  await editor.locator('button[data-action="sample-schema"]').click();
  await until('the sample schema', async () =>
    (await text(page, 'schema-in-use')).includes('meeting-schema.json, 10 tools'),
  );
  return editor;
}
