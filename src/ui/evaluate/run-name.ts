// A run's name as the page shows it. A run is stored with the default name "run N" (its place in
// the list when it finished), which also names its export folder, so the stored name stays one
// ASCII string whatever the page's language; the page says it in its own language when showing it.
// A stored name in any other form (none is made today) is shown as it is.

import type { Translate } from '../shared/i18n.ts';

const DEFAULT_NAME = /^run (\d+)$/;

/** The stored default name of the n-th run. */
export function defaultRunName(n: number): string {
  return `run ${n}`;
}

/** The name the page shows for a run: "run 3" is "第 3 次训练" on the Chinese page. */
export function runName(t: Translate, run: { name: string }): string {
  const m = DEFAULT_NAME.exec(run.name);
  return m ? t('runs.name', { n: Number(m[1]) }) : run.name;
}
