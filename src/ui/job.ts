// The training-job zip: this page's dataset and settings as a PyTorch + PEFT project.
import type { ModelSummary } from '../worker/api.ts';
import type { Controller } from './controller.ts';

export async function buildJobZip(_c: Controller, _summary: ModelSummary): Promise<Blob> {
  throw new Error('the training-job export is not wired yet');
}
