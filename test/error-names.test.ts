import { describe, expect, it } from 'vitest';
import { DownloadError } from '../src/core/errors.ts';
import { deserializeError, serializeError } from '../src/worker/error-transfer.ts';

describe('errors across the worker boundary in a minified build', () => {
  it('keep their class when the bundler renamed it (page and worker renamed apart)', () => {
    const e = new DownloadError('https://x/config.json', 'network', 'could not reach the server');
    // What a minifier leaves: the class's own name is whatever it was renamed to.
    Object.defineProperty(e, 'name', { value: 'w' });
    const back = deserializeError(structuredClone(serializeError(e)));
    expect(back).toBeInstanceOf(DownloadError);
    expect(back.name).toBe('DownloadError');
    expect((back as DownloadError).kind).toBe('network');
  });
});
