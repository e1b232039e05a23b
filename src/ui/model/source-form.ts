// The Model step's sources from the page's side: the form turned into a ModelSource, the identity
// of what is loaded (so the button says "Load again" only for the same source), cached models
// turned back into a form, and local folders opened through the File System Access API, whose
// handle is kept so the folder opens again after a reload (one permission prompt).

import { createStore, del, get, set } from 'idb-keyval';
import { builtinModelPath, sourceKey, type ModelSource } from '../../io/sources.ts';
import type { SourceForm, UiError } from '../app/state.ts';

/** What the form asks to load, or why it cannot. */
export function modelSourceOf(f: SourceForm, baseURI: string): ModelSource | UiError {
  switch (f.kind) {
    case 'builtin':
      return { kind: 'builtin', baseUrl: new URL(builtinModelPath(), baseURI).href };
    case 'hf':
    case 'modelscope':
      if (!f.repo.trim()) return { where: 'model', key: 'model.needRepo', detail: '' };
      return {
        kind: f.kind,
        repo: f.repo.trim(),
        revision: f.revision.trim() || (f.kind === 'hf' ? 'main' : 'master'),
      };
    case 'url':
      if (!f.baseUrl.trim()) return { where: 'model', key: 'model.needUrl', detail: '' };
      return { kind: 'url', baseUrl: f.baseUrl.trim() };
    case 'local':
      if (f.files.length === 0) return { where: 'model', key: 'model.needFolder', detail: '' };
      return { kind: 'local', files: f.files, ...(f.folderName ? { name: f.folderName } : {}) };
  }
}

/** Names what the form would load: the same id, the same model (a folder by its name and files). */
export function sourceIdOf(f: SourceForm, baseURI: string): string {
  const s = modelSourceOf(f, baseURI);
  if (!('kind' in s)) return '';
  return s.kind === 'local' ? `local:${f.folderName}:${f.files.length}` : sourceKey(s);
}

/** The form of a cached model's key (hf:repo@rev, modelscope:repo@rev, url:base); undefined for another host's mirror. */
export function formOfKey(key: string): Partial<SourceForm> | undefined {
  const m = /^(hf|modelscope|url|builtin):(.*)$/.exec(key);
  if (!m || m[2].includes('|')) return undefined;
  const [, kind, rest] = m;
  if (kind === 'url') return { kind: 'url', baseUrl: rest };
  if (kind === 'builtin') return { kind: 'builtin' };
  const at = rest.lastIndexOf('@');
  return at > 0
    ? { kind: kind as 'hf' | 'modelscope', repo: rest.slice(0, at), revision: rest.slice(at + 1) }
    : undefined;
}

// ---- local folders through the File System Access API --------------------------------------

type DirHandle = FileSystemDirectoryHandle & {
  queryPermission?(d: { mode: 'read' }): Promise<PermissionState>;
  requestPermission?(d: { mode: 'read' }): Promise<PermissionState>;
  values(): AsyncIterable<FileSystemHandle>;
};

const handles = () => createStore('webtune-folders', 'handles');

/** Where the browser has it, a folder picked as a handle that can be kept; undefined when it has none. */
export function canKeepFolders(): boolean {
  return typeof (globalThis as { showDirectoryPicker?: unknown }).showDirectoryPicker === 'function';
}

/** The files of a folder handle (top level: a model folder is flat). */
export async function filesOf(dir: DirHandle): Promise<File[]> {
  const files: File[] = [];
  for await (const h of dir.values()) {
    if (h.kind !== 'file') continue;
    const file = await (h as FileSystemFileHandle).getFile();
    // The folder's name travels as a picked folder's does (the model is named after it).
    Object.defineProperty(file, 'webkitRelativePath', { value: `${dir.name}/${file.name}` });
    files.push(file);
  }
  return files;
}

/** Asks for a folder, keeps its handle for the next visit, and returns its files. */
export async function pickFolder(): Promise<{ files: File[]; folder: string } | undefined> {
  const picker = (globalThis as { showDirectoryPicker?: (o?: object) => Promise<DirHandle> }).showDirectoryPicker;
  if (!picker) return undefined;
  const dir = await picker({ mode: 'read' });
  await set('last', dir, handles()).catch(() => undefined);
  return { files: await filesOf(dir), folder: dir.name };
}

/** The kept folder's name, and whether it can be read without asking. */
export async function keptFolder(): Promise<{ name: string; granted: boolean } | undefined> {
  const dir = await get<DirHandle>('last', handles()).catch(() => undefined);
  if (!dir) return undefined;
  const state = (await dir.queryPermission?.({ mode: 'read' }).catch(() => 'prompt' as const)) ?? 'granted';
  return { name: dir.name, granted: state === 'granted' };
}

/** The kept folder's files, asking for permission when needed (call from a click); undefined when refused or gone. */
export async function reopenFolder(): Promise<{ files: File[]; folder: string } | undefined> {
  const dir = await get<DirHandle>('last', handles()).catch(() => undefined);
  if (!dir) return undefined;
  const state = (await dir.queryPermission?.({ mode: 'read' })) ?? 'granted';
  if (state !== 'granted' && (await dir.requestPermission?.({ mode: 'read' })) !== 'granted') return undefined;
  try {
    return { files: await filesOf(dir), folder: dir.name };
  } catch {
    // The folder was moved or deleted: forget it.
    await del('last', handles()).catch(() => undefined);
    return undefined;
  }
}
