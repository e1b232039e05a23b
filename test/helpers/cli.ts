// The CLI as the tests run it: main() in this process, stdout and stderr captured.
import { main } from '../../src/cli/main.ts';

class Capture {
  text = '';
  write(s: string) {
    this.text += s;
    return true;
  }
}

/** Exit code, both streams, and the JSON of stdout's last line (every command ends with one). */
export async function cli(...argv: string[]) {
  const stdout = new Capture(),
    stderr = new Capture();
  const code = await main(argv, { stdout, stderr });
  const lines = stdout.text.trim().split('\n');
  return { code, out: stdout.text, err: stderr.text, json: () => JSON.parse(lines[lines.length - 1]) };
}
