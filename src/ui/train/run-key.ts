// Which run the page's counters and Resume belong to. Two runs with the same key make the same
// steps: the same model, rows, split, prompt, LoRA shape and trainer settings (the evaluation and
// checkpoint cadences change no step). The worker checks the exact fingerprint of the tokenized
// data before it resumes; this key lets the page tell, without tokenizing, that a saved run was
// made with other settings or data, so it neither offers Resume for it nor counts its steps.

import type { AppState } from '../app/state.ts';

export function runKeyOf(
  s: Pick<
    AppState,
    'model' | 'dataset' | 'evalDataset' | 'evalFraction' | 'splitSeed' | 'systemPrompt' | 'train' | 'continuing'
  >,
): string {
  const { evalEvery: _e, checkpointEvery: _c, ...steps } = s.train;
  const key: unknown[] = [
    s.model.summary?.sourceKey || s.model.summary?.name,
    s.dataset?.name,
    s.dataset?.rows.length,
    s.evalDataset ? s.evalDataset.name : [s.evalFraction, s.splitSeed],
    s.systemPrompt,
    steps,
  ];
  // A control run (train/control-run.ts) makes other steps: fewer rows, other epochs.
  if (s.continuing?.control) key.push(s.continuing.control);
  return JSON.stringify(key);
}
