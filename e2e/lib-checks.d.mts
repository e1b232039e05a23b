// Types of e2e/lib-checks.mjs (plain JS, loaded by the .mjs flows and by TypeScript).
export function lossFallProblem(losses: number[], minDrop?: number): string | undefined;
export function sameLossesProblem(got: number[], want: number[], steps: number, rel?: number): string | undefined;
export function evalReportProblem(rows: number, exactText: string, wrongListed: number): string | undefined;
