// Comlink sends a thrown Error as {name, message, stack} and rebuilds a plain Error, which
// loses what the UI acts on (DownloadError.kind, DatasetError.issues, the class itself). This
// handler carries the own fields and rebuilds the Webtune class, so `e instanceof DownloadError`
// and `e.kind` work on the page as they do in the worker. Both sides must install it.

import * as Comlink from 'comlink';
import * as errors from '../core/errors.ts';

type ErrorClass = { prototype: Error; name: string };

// Keyed by the exported name, not the class's own: a minified build renames classes, and the
// page and the worker are minified apart, so `name` ("w" here, "t" there) would not match.
const CLASSES = new Map<string, ErrorClass>(
  (Object.entries(errors) as [string, unknown][]).filter(
    (e): e is [string, ErrorClass] => typeof e[1] === 'function' && (e[1] as ErrorClass).prototype instanceof Error,
  ),
);

/** The exported name of the error's own class, when it is one of ours. */
function exportedName(e: Error): string | undefined {
  for (const [name, cls] of CLASSES) if (Object.getPrototypeOf(e) === cls.prototype) return name;
  return undefined;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

export function serializeError(e: Error): SerializedError {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'name' || k === 'message' || k === 'stack') continue;
    try {
      fields[k] = structuredClone(v);
    } catch {
      // A field that cannot cross threads (a function, a GPU object) is left behind.
    }
  }
  return { name: exportedName(e) ?? e.name, message: e.message, stack: e.stack, fields };
}

export function deserializeError(s: SerializedError): Error {
  const cls = CLASSES.get(s.name);
  const e: Error = cls ? Object.create(cls.prototype) : new Error(s.message);
  Object.assign(e, s.fields);
  Object.defineProperties(e, {
    name: { value: s.name, writable: true, configurable: true, enumerable: false },
    message: { value: s.message, writable: true, configurable: true, enumerable: false },
    stack: { value: s.stack, writable: true, configurable: true, enumerable: false },
  });
  return e;
}

let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const base = Comlink.transferHandlers.get('throw')!;
  Comlink.transferHandlers.set('throw', {
    canHandle: base.canHandle,
    serialize(thrown: unknown) {
      const value = (thrown as { value: unknown }).value;
      if (value instanceof Error) return [{ isError: true, value: serializeError(value) }, []];
      return [{ isError: false, value }, []];
    },
    deserialize(s: unknown) {
      const ser = s as { isError: boolean; value: unknown };
      if (ser.isError) throw deserializeError(ser.value as SerializedError);
      throw ser.value;
    },
  } as Comlink.TransferHandler<unknown, unknown>);
}
