// The page's saved state, both ways: what a reload brings back (choices on each screen, the
// settings, the adapter in use, a continued run not finished) and what is written on a change.
// The controller reads and writes it through persist.ts (IndexedDB).

import { defaultRecipe } from '../../train/recipe.ts';
import type { SavedSession } from './persist.ts';
import type { AppState } from './state.ts';

/** The session to save: adapterRun is the kept run whose adapter is in use. */
export function sessionOf(s: AppState, adapterRun: string | undefined): SavedSession {
  return {
    engineChoice: s.engineChoice,
    quantChoice: s.quantChoice,
    source: { kind: s.source.kind, repo: s.source.repo, revision: s.source.revision, baseUrl: s.source.baseUrl },
    train: s.train,
    evalFraction: s.evalFraction,
    splitSeed: s.splitSeed,
    systemPrompt: s.systemPrompt,
    chat: {
      prompt: s.chat.prompt,
      maxNewTokens: s.chat.maxNewTokens,
      temperature: s.chat.temperature,
      constrained: s.chat.constrained,
      instruct: s.chat.instruct,
    },
    adapterRun,
    continuing: s.continuing,
    measuredSpeed: s.measuredSpeed,
  };
}

/** The state a saved session brings back (a folder's files and the adapter come back later, by their own steps). */
export function restoredPatch(saved: SavedSession): (s: AppState) => Partial<AppState> {
  return (s) => ({
    continuing: saved.continuing,
    engineChoice: saved.engineChoice,
    quantChoice: saved.quantChoice ?? 'auto',
    source: { ...s.source, ...saved.source, files: [], folderName: '' },
    train: { ...defaultRecipe(), ...saved.train },
    evalFraction: saved.evalFraction,
    splitSeed: saved.splitSeed,
    systemPrompt: saved.systemPrompt,
    chat: { ...s.chat, ...saved.chat },
    measuredSpeed: saved.measuredSpeed ?? s.measuredSpeed,
  });
}
