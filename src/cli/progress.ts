// A one-line progress bar on stderr: redrawn in place on a terminal, a line every few seconds
// otherwise (logs, CI), and always a final line, so stdout stays clean for results.

export interface ProgressBar {
  update(done: number, note?: string): void;
  finish(note?: string): void;
}

/** Where the CLI writes: process.stdout / process.stderr, or a buffer in tests. */
export interface TextStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export function progressBar(
  label: string,
  total: number,
  stream: TextStream = process.stderr,
  quiet = false,
): ProgressBar {
  const t0 = performance.now();
  let lastPrint = 0;
  const tty = Boolean(stream.isTTY);
  const render = (done: number, note?: string) => {
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const width = 24;
    const fill = Math.round(frac * width);
    const sec = (performance.now() - t0) / 1000;
    const eta = done > 0 && done < total ? ` eta ${fmtSeconds((sec * (total - done)) / done)}` : '';
    return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${fmtSeconds(sec)}${eta}${note ? ` ${note}` : ''}`;
  };
  return {
    update(done, note) {
      if (quiet) return;
      const now = performance.now();
      if (tty) stream.write(`\r\x1b[2K${render(done, note)}`);
      else if (now - lastPrint > 5000 && done < total) {
        stream.write(render(done, note) + '\n');
        lastPrint = now;
      }
    },
    finish(note) {
      if (quiet) return;
      stream.write(`${tty ? '\r\x1b[2K' : ''}${render(total, note)}\n`);
    },
  };
}

function fmtSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
