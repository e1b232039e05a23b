// What a component may ask for. Components dispatch one `wt-action` event carrying an Action;
// the app root hands it to the controller, so no component holds the worker or the store.

import type { MappedField } from '../../data/delimited.ts';
import type { EngineChoice, QuantChoice } from '../../worker/api.ts';
import type { Lang } from '../shared/i18n.ts';
import type { Recipe } from '../../train/recipe.ts';
import type { SchemaState, Screen, SourceForm } from './state.ts';
import type { SchemaForm } from '../data/schema-form.ts';
import type { NumericField } from '../train/train-fields.ts';

export type Action =
  | { type: 'setLang'; lang: Lang }
  | { type: 'go'; screen: Screen }
  | { type: 'setEngine'; engine: EngineChoice }
  | { type: 'setQuant'; quant: QuantChoice }
  | { type: 'setSource'; patch: Partial<SourceForm> }
  /** confirmed: the user agreed to lose the trained adapter in this page (it stays saved as a run). */
  | { type: 'loadModel'; confirmed?: boolean }
  | { type: 'cancelReplace' }
  | { type: 'cancelLoad' }
  /** A cached model's source into the form, then loaded. */
  | { type: 'loadCached'; sourceKey: string }
  /** The local folder of the last visit, opened again (asks for permission). */
  | { type: 'reopenFolder' }
  | { type: 'deleteCachedModel'; sourceKey: string }
  /** A picked file (any encoding, streamed) or pasted text. */
  | { type: 'importData'; name: string; file?: Blob; text?: string; role: 'train' | 'eval' }
  | { type: 'importSample' }
  /** The column mapping of a CSV/TSV file: a field to a column (-1: none), then import or cancel. */
  | { type: 'setColumn'; field: MappedField; column: number }
  | { type: 'importMapped' }
  | { type: 'cancelMapping' }
  | { type: 'useSplit' }
  /** The eval file set aside, back in use. */
  | { type: 'useEvalFile' }
  /** The good rows of a file whose problems are shown. */
  | { type: 'importGood' }
  | { type: 'setSplit'; evalFraction: number }
  | { type: 'setSystemPrompt'; text: string }
  | { type: 'setAllowControlText'; allow: boolean }
  | { type: 'setTrain'; patch: Partial<Recipe> }
  /** A numeric setting as typed: checked against its range before it reaches the recipe. */
  | { type: 'setTrainField'; key: NumericField; raw: string }
  | { type: 'resetTrain' }
  | { type: 'startTraining'; fresh: boolean }
  | { type: 'pauseTraining' }
  | { type: 'resumeTraining' }
  | { type: 'stopTraining' }
  | { type: 'importAdapter'; files: File[]; folder?: string }
  | { type: 'evaluate' }
  | {
      type: 'setChat';
      patch: {
        prompt?: string;
        maxNewTokens?: number;
        temperature?: number;
        constrained?: boolean;
        instruct?: boolean;
      };
    }
  | { type: 'sendChat' }
  | { type: 'export'; kind: 'peft' | 'merged' | 'gguf' | 'job' }
  | { type: 'dismissError'; where: Screen }
  | LoopAction;

/** The error loop: tool schema, rows built from it, wrong answers into training rows, runs. */
export type LoopAction =
  | { type: 'loadSampleSchema' }
  | { type: 'importSchema'; name: string; text: string }
  | { type: 'editSchema'; form: SchemaForm }
  | { type: 'applySchema' }
  | { type: 'exportSchema' }
  | { type: 'setBuild'; patch: Partial<SchemaState['build']> }
  | { type: 'buildData' }
  | { type: 'correctAnswer'; decoding: 'free' | 'constrained'; index: number; answer: string }
  | { type: 'acceptAnswer'; decoding: 'free' | 'constrained'; index: number }
  | { type: 'moreRows'; tool: string }
  | { type: 'setMoreRows'; count: number }
  | { type: 'continueTraining'; control?: boolean }
  | { type: 'selectRun'; id: string }
  | { type: 'loadRun'; id: string }
  | { type: 'exportRun'; id: string }
  | { type: 'deleteRun'; id: string };

export const ACTION_EVENT = 'wt-action';

export function emit(from: EventTarget, action: Action): void {
  from.dispatchEvent(new CustomEvent<Action>(ACTION_EVENT, { detail: action, bubbles: true, composed: true }));
}

declare global {
  interface HTMLElementEventMap {
    [ACTION_EVENT]: CustomEvent<Action>;
  }
}
