// A local model hub for the download tests: one folder served in the Hugging Face layout
// (file listing API + resolve URLs) and as a plain base URL, with Range support and the faults
// a real network shows: a connection dropped mid-body, a stalled body, a corrupted file, a 404,
// an HTML page where JSON belongs, a 500, and a second origin that sends no CORS headers.
//
//   /hf/api/models/{owner}/{repo}/tree/{rev}   listing (sizes, LFS sha256)
//   /hf/{owner}/{repo}/resolve/{rev}/{file}     files; repo "tiny" is good, "corrupt" flips a
//                                               weight byte, "gated" answers 401
//   /plain/{file}                               plain layout, no hashes published
//   /drop/{file}                                first request of each file is cut half way
//   /stall/{file}                               first request of each weights file stops half way (until close)
//   /html/{file}, /error/{file}                 a 200 HTML page, a 500
// Anything else answers 404. The same routes on `other` send no Access-Control-Allow-Origin.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface RequestRecord {
  server: 'main' | 'other';
  method: string;
  path: string;
  range?: string;
  origin?: string;
  status: number;
}

export interface IoServer {
  url: string;
  otherUrl: string;
  log: RequestRecord[];
  files: Map<string, { bytes: Buffer; sha256: string }>;
  /** Forget which files were already cut/stalled, so the next request faults again. */
  resetFaults(): void;
  close(): Promise<void>;
}

const EXPOSE = 'Content-Length, Content-Range, Accept-Ranges, ETag, X-Linked-Size, X-Linked-Etag';

export async function startIoServer(modelDir: string): Promise<IoServer> {
  const files = new Map<string, { bytes: Buffer; sha256: string }>();
  for (const name of readdirSync(modelDir)) {
    const bytes = readFileSync(join(modelDir, name));
    files.set(name, { bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  const log: RequestRecord[] = [];
  const faulted = new Set<string>();
  const stalled = new Set<ServerResponse>();

  const handler = (server: 'main' | 'other') => (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const record: RequestRecord = {
      server,
      method: req.method ?? 'GET',
      path,
      range: req.headers.range,
      origin: req.headers.origin,
      status: 0,
    };
    log.push(record);
    const send = (status: number, headers: Record<string, string | number>, body?: Buffer | string) => {
      record.status = status;
      if (server === 'main') {
        headers['Access-Control-Allow-Origin'] = '*';
        headers['Access-Control-Expose-Headers'] = EXPOSE;
      }
      res.writeHead(status, headers);
      res.end(body);
    };
    if (req.method === 'OPTIONS') {
      return send(
        204,
        server === 'main' ? { 'Access-Control-Allow-Headers': 'Range, If-Range', 'Access-Control-Max-Age': 600 } : {},
      );
    }
    route(path, req, res, send, record);
  };

  function route(
    path: string,
    req: IncomingMessage,
    res: ServerResponse,
    send: (s: number, h: Record<string, string | number>, b?: Buffer | string) => void,
    record: RequestRecord,
  ) {
    let m = path.match(/^\/hf\/api\/models\/([^/]+)\/([^/]+)\/tree\/([^/]+)$/);
    if (m) {
      if (m[2] !== 'tiny' && m[2] !== 'corrupt')
        return send(404, { 'Content-Type': 'application/json' }, '{"error":"Repository not found"}');
      const listing = [...files].map(([p, f]) => ({
        type: 'file',
        path: p,
        size: f.bytes.length,
        oid: createHash('sha1').update(f.bytes).digest('hex'),
        ...(p.endsWith('.safetensors') ? { lfs: { oid: f.sha256, size: f.bytes.length, pointerSize: 134 } } : {}),
      }));
      return send(200, { 'Content-Type': 'application/json' }, JSON.stringify(listing));
    }
    m = path.match(/^\/hf\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/);
    if (m) {
      const [, , repo, , name] = m;
      if (repo === 'gated') return send(401, { 'Content-Type': 'text/plain' }, 'Access to this model is restricted');
      if (repo !== 'tiny' && repo !== 'corrupt')
        return send(404, { 'Content-Type': 'text/plain' }, 'Repository not found');
      const f = files.get(name);
      if (!f) return send(404, { 'Content-Type': 'text/plain' }, 'Entry not found');
      let bytes = f.bytes;
      if (repo === 'corrupt' && name.endsWith('.safetensors')) {
        bytes = Buffer.from(bytes);
        bytes[bytes.length - 3] ^= 0xff;
      }
      const lfs = name.endsWith('.safetensors');
      const extra: Record<string, string | number> = lfs
        ? { ETag: `"${f.sha256}"`, 'X-Linked-Etag': `"${f.sha256}"`, 'X-Linked-Size': f.bytes.length }
        : { ETag: `"${createHash('sha1').update(f.bytes).digest('hex')}"` };
      return serveBytes(req, res, send, record, bytes, contentType(name), extra, undefined);
    }
    m = path.match(/^\/(plain|drop|stall|html|error)\/(.+)$/);
    if (m) {
      const [, mode, name] = m;
      const f = files.get(name);
      if (!f) return send(404, { 'Content-Type': 'text/plain' }, 'Not found');
      if (mode === 'html')
        return send(200, { 'Content-Type': 'text/html' }, '<!doctype html><html><body>Sign in</body></html>');
      if (mode === 'error') return send(500, { 'Content-Type': 'text/plain' }, 'Internal Server Error');
      let fault: 'drop' | 'stall' | undefined;
      const faulty = mode === 'drop' ? f.bytes.length > 1024 : mode === 'stall' && name.endsWith('.safetensors');
      if (faulty && !faulted.has(`${mode}/${name}`)) {
        faulted.add(`${mode}/${name}`);
        fault = mode as 'drop' | 'stall';
      }
      return serveBytes(req, res, send, record, f.bytes, contentType(name), { ETag: `W/"${f.bytes.length}"` }, fault);
    }
    send(404, { 'Content-Type': 'text/plain' }, 'Not found');
  }

  function serveBytes(
    req: IncomingMessage,
    res: ServerResponse,
    send: (s: number, h: Record<string, string | number>, b?: Buffer | string) => void,
    record: RequestRecord,
    bytes: Buffer,
    type: string,
    extra: Record<string, string | number>,
    fault: 'drop' | 'stall' | undefined,
  ) {
    let start = 0;
    let status = 200;
    const headers: Record<string, string | number> = { 'Content-Type': type, 'Accept-Ranges': 'bytes', ...extra };
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    if (range) {
      start = Number(range[1]);
      if (start >= bytes.length) return send(416, { 'Content-Range': `bytes */${bytes.length}` });
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    const body = bytes.subarray(start);
    headers['Content-Length'] = body.length;
    if (!fault) return send(status, headers, body);
    // Headers promise the whole body; only half of it comes.
    record.status = status;
    headers['Access-Control-Allow-Origin'] = '*';
    headers['Access-Control-Expose-Headers'] = EXPOSE;
    res.writeHead(status, headers);
    res.write(body.subarray(0, body.length >> 1), () => {
      if (fault === 'drop') setTimeout(() => res.socket?.destroy(), 20);
      else stalled.add(res);
    });
  }

  const main = createServer(handler('main'));
  const other = createServer(handler('other'));
  const listen = (s: Server) =>
    new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
  const [p1, p2] = await Promise.all([listen(main), listen(other)]);
  const close = (s: Server) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${p1}`,
    // "localhost" vs "127.0.0.1" would share a port-less origin rule; a different port is a different origin.
    otherUrl: `http://127.0.0.1:${p2}`,
    log,
    files,
    resetFaults: () => faulted.clear(),
    close: async () => {
      for (const r of stalled) r.socket?.destroy();
      await Promise.all([close(main), close(other)]);
    },
  };
}

function contentType(name: string): string {
  return name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
}
