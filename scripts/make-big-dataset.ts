// A large JSON lines dataset for memory checks, written to a path you give (/tmp, never the repo):
// meeting-assistant rows in the seed format, every row different (a running number in the
// utterance), Chinese text and tool-call answers like the sample's, plus optional over-long rows.
//   npx tsx scripts/make-big-dataset.ts --out /tmp/big.jsonl --mb 100 [--long-rows 2 --long-mb 10]

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { scriptFlags } from '../src/cli/args.ts';

const ROOMS = ['一号会议室', '二号会议室', '大会议室', '小会议室', '董事会议室'];
const NAMES = ['汇报会', '周例会', '项目评审', '需求讨论', '技术分享', '预算会议'];

/** Row i: unique text, a tool call as the answer. */
export function bigRow(i: number): string {
  const name = NAMES[i % NAMES.length],
    room = ROOMS[(i >> 3) % ROOMS.length];
  const input = `请在${room}创建${name}第${i}次会议，并通知所有参会人员准时参加`;
  const output = { tool_name: 'INSTANT_MEETING', parameters: { meeting_name: `${name}第${i}次`, room } };
  return JSON.stringify({ instruct: '请将以下会议语音指令转换为工具调用JSON：', input, output });
}

/** Writes rows until `bytes` are written; `long` rows of `longBytes` each go in at even places. */
export async function makeBigDataset(
  out: string,
  bytes: number,
  long = 0,
  longBytes = 0,
): Promise<{ rows: number; bytes: number }> {
  const w = createWriteStream(out);
  let written = 0,
    rows = 0;
  const longEvery = long ? Math.max(1, Math.floor(bytes / 200 / (long + 1))) : Infinity;
  let longLeft = long;
  while (written < bytes) {
    let line: string;
    if (longLeft > 0 && rows > 0 && rows % longEvery === 0) {
      longLeft--;
      line = JSON.stringify({
        instruct: '',
        input: `长${rows}` + '会议'.repeat(Math.floor(longBytes / 6)),
        output: 'ok',
      });
    } else line = bigRow(rows);
    const b = Buffer.from(line + '\n');
    written += b.length;
    rows++;
    if (!w.write(b)) await once(w, 'drain');
  }
  w.end();
  await once(w, 'finish');
  return { rows, bytes: written };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = scriptFlags('make-big-dataset', 'a large JSON lines dataset for memory checks', {
    out: { kind: 'string', required: true, help: 'file to write (put it in /tmp)' },
    mb: { kind: 'number', min: 0.001, help: 'size in MB (default 100)' },
    'long-rows': { kind: 'int', min: 0, help: 'over-long rows to add (default 0)' },
    'long-mb': { kind: 'number', min: 0.001, help: 'size of each over-long row in MB (default 10)' },
  });
  const r = await makeBigDataset(
    f.out as string,
    ((f.mb as number) ?? 100) * 1e6,
    (f['long-rows'] as number) ?? 0,
    ((f['long-mb'] as number) ?? 10) * 1e6,
  );
  console.log(JSON.stringify({ out: f.out, ...r }));
}
