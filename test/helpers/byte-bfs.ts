// The oracle of the grammars' minBytes: the fewest bytes from a state to an accepting one, found
// by breadth-first search over all 256 bytes (test/call-grammar, test/span-grammar).

export interface ByteAutomaton {
  step(state: number, byte: number): number;
  isAccept(state: number): boolean;
}

/** Fewest bytes from s to an accept state, Infinity when none within `cap`. */
export function bfsMin(g: ByteAutomaton, s: number, cap: number): number {
  let frontier = [s];
  const seen = new Set(frontier);
  for (let d = 0; d <= cap; d++) {
    if (frontier.some((x) => g.isAccept(x))) return d;
    const next: number[] = [];
    for (const x of frontier)
      for (let b = 0; b < 256; b++) {
        const y = g.step(x, b);
        if (y >= 0 && !seen.has(y)) {
          seen.add(y);
          next.push(y);
        }
      }
    frontier = next;
  }
  return Infinity;
}
