// The dedicated worker that parses an imported dataset file (import-rows.ts): one file per worker,
// its rows sent back as packed chunks. It works in long stretches (a turn every 200 ms, only to
// send progress): nothing here can make the page's main thread wait.

import { parseToChunks, type ImportMessage, type ImportRequest } from './import-rows.ts';

const post = (m: ImportMessage, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

self.onmessage = (e: MessageEvent<ImportRequest>) => void parseToChunks(e.data, post, 200);
