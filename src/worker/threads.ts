// How many CPU engine threads a `?threads=N` link may start: a whole number from 1 to the
// machine's logical cores. A crafted link (`?threads=100000`) must not start that many workers,
// and a junk value means "the default" rather than an error page.

/** `raw` as typed in the query; `cores` what the browser reports (navigator.hardwareConcurrency). */
export function clampThreads(raw: string | null | undefined, cores: number | undefined): number | undefined {
  if (raw === null || raw === undefined || !/^\s*\d+\s*$/.test(raw)) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) return undefined;
  const max = Math.max(1, Math.floor(cores && Number.isFinite(cores) ? cores : 1));
  return Math.min(n, max);
}
