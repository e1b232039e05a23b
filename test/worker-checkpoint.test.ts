// Checkpoint serialization and the two-step write. The oracle is the data put in: a round trip
// must give back every float bit for bit, and a write cut short must leave the last good one.
import { describe, expect, it } from 'vitest';
import { CheckpointStore, decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../src/train/checkpoint.ts';
import { runFingerprint } from '../src/train/fingerprint.ts';
import { memoryStore, type KeyValueStore } from '../src/io/store.ts';
import { CheckpointError } from '../src/core/errors.ts';
import { encodeSafetensors } from '../src/core/safetensors.ts';
import { DEFAULT_LORA } from '../src/train/recipe.ts';

function randomArray(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = (x / 2 ** 32 - 0.5) * 2 ** ((x % 40) - 20);
  }
  return a;
}

function checkpoint(step: number, seed = step): Checkpoint {
  const lora = {
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': randomArray(8 * 64, seed + 1),
    'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight': randomArray(64 * 8, seed + 2),
  };
  return {
    meta: {
      runId: 'run1',
      fingerprint: 'f'.repeat(64),
      modelKey: 'hf:Qwen/Qwen2.5-0.5B-Instruct@main',
      position: { step, epoch: 1, microInEpoch: 3 },
      totalSteps: 40,
      lora: DEFAULT_LORA,
      history: Array.from({ length: step }, (_, i) => ({ step: i + 1, loss: 3 - i * 0.1, gradNorm: 1 + i, lr: 1e-4 })),
      savedAt: 1700000000000 + step,
    },
    lora,
    optimizer: { step, m: randomArray(1024, seed + 3), v: randomArray(1024, seed + 4).map(Math.abs) },
  };
}

/** A store whose next matching write fails, as a tab killed mid-transaction would. */
function failingOn(store: KeyValueStore, match: (key: unknown[]) => boolean): KeyValueStore & { armed: boolean } {
  const s = {
    ...store,
    armed: true,
    setMany: async (entries: [(string | number)[], unknown][]) => {
      if (s.armed && entries.some(([k]) => match(k))) {
        s.armed = false;
        throw new DOMException('The transaction was aborted', 'AbortError');
      }
      return store.setMany(entries);
    },
  };
  return s;
}

describe('checkpoint format', () => {
  it('round-trips LoRA weights, AdamW moments, position and history bit for bit', async () => {
    const c = checkpoint(7);
    const back = await decodeCheckpoint(encodeCheckpoint(c));
    expect(back.meta).toEqual(c.meta);
    expect(Object.keys(back.lora).sort()).toEqual(Object.keys(c.lora).sort());
    for (const [k, v] of Object.entries(c.lora))
      expect(new Uint32Array(back.lora[k].buffer)).toEqual(new Uint32Array(v.buffer));
    expect(back.optimizer.step).toBe(7);
    expect(new Uint32Array(back.optimizer.m.buffer)).toEqual(new Uint32Array(c.optimizer.m.buffer));
    expect(new Uint32Array(back.optimizer.v.buffer)).toEqual(new Uint32Array(c.optimizer.v.buffer));
  });

  it('refuses what is not a complete checkpoint, saying which', async () => {
    const good = encodeCheckpoint(checkpoint(3));
    await expect(decodeCheckpoint(good.slice(0, good.size - 100), 'ck')).rejects.toThrow(/ck: unreadable.*truncated/);
    const plain = new Blob(
      encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }], {
        format: 'pt',
      }) as BlobPart[],
    );
    await expect(decodeCheckpoint(plain, 'ck')).rejects.toThrow(CheckpointError);
    await expect(decodeCheckpoint(plain, 'ck')).rejects.toThrow(/not a Webtune checkpoint/);
    const c = checkpoint(3);
    c.optimizer.m = new Float32Array(5);
    c.optimizer.v = new Float32Array(5);
    await expect(decodeCheckpoint(encodeCheckpoint(c), 'ck')).rejects.toThrow(/5 values for 1024 LoRA parameters/);
  });
});

describe('checkpoint store', () => {
  it('keeps one checkpoint per run, lists it, deletes it', async () => {
    const cs = new CheckpointStore(memoryStore());
    await cs.save(checkpoint(2));
    const info = await cs.save(checkpoint(4));
    expect(info).toMatchObject({ runId: 'run1', step: 4, totalSteps: 40, lastLoss: 3 - 3 * 0.1 });
    expect(await cs.list()).toEqual([info]);
    expect((await cs.load('run1'))!.meta.position.step).toBe(4);
    await cs.delete('run1');
    expect(await cs.list()).toEqual([]);
    expect(await cs.load('run1')).toBeUndefined();
  });

  it('a write cut short (data or pointer) leaves the previous checkpoint intact, and its debris is swept', async () => {
    for (const part of ['ckpt-data', 'ckpt']) {
      const base = memoryStore();
      const store = failingOn(base, (k) => k[0] === part);
      store.armed = false;
      const cs = new CheckpointStore(store);
      await cs.save(checkpoint(2));
      store.armed = true;
      await expect(cs.save(checkpoint(4))).rejects.toThrow(/aborted/);
      const back = await cs.load('run1');
      expect(back!.meta.position.step, `after a failed ${part} write`).toBe(2);
      expect(
        new Uint32Array(back!.lora['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].buffer),
      ).toEqual(
        new Uint32Array(checkpoint(2).lora['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].buffer),
      );
      await cs.save(checkpoint(6));
      expect((await cs.load('run1'))!.meta.position.step).toBe(6);
      expect((await base.keys()).filter((k) => k[0] === 'ckpt-data')).toHaveLength(1);
    }
  });
});

describe('run fingerprint', () => {
  it('changes with any setting or any token of the data, and only then', async () => {
    const data = [{ ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(-100, 2, 3) }];
    const base = { modelKey: 'm', settings: { lr: 1e-4, epochs: 8 }, lora: DEFAULT_LORA, data };
    const f = await runFingerprint(base);
    expect(
      await runFingerprint({ ...base, data: [{ ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(-100, 2, 3) }] }),
    ).toBe(f);
    expect(await runFingerprint({ ...base, settings: { lr: 2e-4, epochs: 8 } })).not.toBe(f);
    expect(await runFingerprint({ ...base, lora: { ...DEFAULT_LORA, r: 16 } })).not.toBe(f);
    expect(
      await runFingerprint({ ...base, data: [{ ids: Int32Array.of(1, 2, 4), labels: Int32Array.of(-100, 2, 3) }] }),
    ).not.toBe(f);
    expect(
      await runFingerprint({ ...base, data: [{ ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(-100, -100, 3) }] }),
    ).not.toBe(f);
    expect(await runFingerprint({ ...base, modelKey: 'n' })).not.toBe(f);
  });

  it('does not depend on the order settings were written in, nor on where one row ends', async () => {
    const data = [{ ids: Int32Array.of(1, 2, 3), labels: Int32Array.of(-100, 2, 3) }];
    const base = {
      modelKey: 'm',
      settings: { lr: 1e-4, epochs: 8, optimizer: { beta1: 0.9, beta2: 0.999 } },
      lora: DEFAULT_LORA,
      data,
    };
    const f = await runFingerprint(base);
    expect(
      await runFingerprint({ ...base, settings: { optimizer: { beta2: 0.999, beta1: 0.9 }, epochs: 8, lr: 1e-4 } }),
    ).toBe(f);
    expect(
      await runFingerprint({
        ...base,
        lora: { rslora: false, targets: DEFAULT_LORA.targets, dropout: 0.1, alpha: 32, r: 8 },
      }),
    ).toBe(f);
    // The same tokens cut into two rows are another data set.
    const split = [
      { ids: Int32Array.of(1), labels: Int32Array.of(-100) },
      { ids: Int32Array.of(2, 3), labels: Int32Array.of(2, 3) },
    ];
    expect(await runFingerprint({ ...base, data: split })).not.toBe(f);
  });
});
