// The CLI's training flags, made from the one settings table (train/settings-spec.ts): each
// setting with a flag becomes a FlagSpec whose check is the spec's (the page runs the same one),
// and a recipe is built from the parsed flags by walking the table, not by casting each flag.

import { LORA_TARGETS, type LoraTarget } from '../core/config.ts';
import type { EngineKind } from '../engine/engine.ts';
import type { Recipe } from '../train/recipe.ts';
import { checkSetting, problemText, recipeProblems, SETTINGS, type Setting } from '../train/settings-spec.ts';
import { UsageError, type FlagSpec, type Flags } from './args.ts';

const shown = (v: unknown) =>
  Array.isArray(v) ? (v.length === LORA_TARGETS.length ? 'all seven' : v.join(',')) : String(v);

function flagOf(s: Setting, defaults: Recipe): FlagSpec {
  const help = `${s.help} (default ${shown(defaults[s.key])})`;
  switch (s.type) {
    case 'int':
    case 'number':
      return {
        kind: s.type,
        help,
        check: (raw) => {
          const r = checkSetting(s, raw);
          if ('value' in r) return r;
          // no number at all: say that alone; otherwise every rule it breaks
          const first = r.problems[0];
          return {
            error: (first.code === 'empty' || first.code === 'number' ? [first] : r.problems)
              .map(problemText)
              .join('; '),
          };
        },
      };
    case 'choice':
      return { kind: 'choice', choices: s.choices, help };
    default:
      return { kind: 'string', help };
  }
}

/** FlagSpecs of every setting the CLI takes (those with a flag in the spec), with the defaults in the help. */
export function settingFlags(defaults: Recipe): Record<string, FlagSpec> {
  return Object.fromEntries(
    SETTINGS.filter((s) => s.flag && s.type !== 'bool').map((s) => [s.flag!, flagOf(s, defaults)]),
  );
}

/** --targets as the spec's list: known names, in the canonical order, at least one. */
export function parseTargets(command: string, raw: string | undefined, fallback: readonly LoraTarget[]): LoraTarget[] {
  if (raw === undefined) return [...fallback];
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!(LORA_TARGETS as readonly string[]).includes(n))
      throw new UsageError(`${command}: --targets: "${n}" is not one of ${LORA_TARGETS.join(', ')}`);
  if (!names.length) throw new UsageError(`${command}: --targets is empty`);
  return LORA_TARGETS.filter((t) => names.includes(t));
}

/**
 * The recipe the flags ask for: each flag given replaces its default. Then the whole recipe is
 * checked on the engine that will run (a rank over WebGPU's kernels is refused here, before any
 * loading, with the words the page uses for it).
 */
export function recipeFromFlags(command: string, f: Flags, defaults: Recipe, engine: EngineKind): Recipe {
  const r: Recipe = { ...defaults, targets: [...defaults.targets] };
  const out = r as unknown as Record<string, unknown>;
  for (const s of SETTINGS) {
    const v = s.flag ? f[s.flag] : undefined;
    if (v === undefined) continue;
    out[s.key] = s.type === 'list' ? parseTargets(command, v as string, defaults.targets) : v;
  }
  const bad = recipeProblems(r, engine)[0];
  if (bad) {
    const flag = SETTINGS.find((s) => s.key === bad.key)!.flag;
    throw new UsageError(
      `${command}: ${flag ? `--${flag}` : bad.key} ${bad.problems.map(problemText).join('; ')}, got ${r[bad.key]}`,
    );
  }
  return r;
}
