// Errors crossing the worker boundary keep their class and fields; the oracle is the error
// thrown on the other side.
import { describe, expect, it } from 'vitest';
import { deserializeError, serializeError } from '../src/worker/error-transfer.ts';
import { DatasetError, DownloadError, NonFiniteError, WebtuneError } from '../src/core/errors.ts';

const cross = (e: Error) => deserializeError(structuredClone(serializeError(e)));

describe('error transfer', () => {
  it('rebuilds Webtune errors with their class, message and fields', () => {
    const d = cross(new DownloadError('https://h/x', 'cors', 'refused'));
    expect(d).toBeInstanceOf(DownloadError);
    expect(d).toBeInstanceOf(WebtuneError);
    expect(d.name).toBe('DownloadError');
    expect(d.message).toBe('https://h/x: refused');
    expect((d as DownloadError).kind).toBe('cors');
    expect((d as DownloadError).url).toBe('https://h/x');
    const ds = cross(
      new DatasetError('train.jsonl', [{ line: 3, field: 'output', message: 'not JSON' }]),
    ) as DatasetError;
    expect(ds).toBeInstanceOf(DatasetError);
    expect(ds.issues).toEqual([{ line: 3, field: 'output', message: 'not JSON' }]);
    const nf = cross(new NonFiniteError('loss', 12)) as NonFiniteError;
    expect(nf.step).toBe(12);
    expect(nf.message).toContain('non-finite loss at step 12');
  });

  it('keeps foreign errors as plain Errors with name and message', () => {
    const t = cross(new TypeError('boom'));
    expect(t).toBeInstanceOf(Error);
    expect(t.name).toBe('TypeError');
    expect(t.message).toBe('boom');
  });
});
