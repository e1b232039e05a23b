// A file picker that also accepts drag and drop; for folders it walks dropped directories so a
// model folder arrives as one list of Files either way. Emits `wt-files` with File[].

import { LitElement, css, html } from 'lit';
import { customElement, property, state, query } from 'lit/decorators.js';
import { panelStyles } from './styles.ts';
import { canKeepFolders, pickFolder } from '../model/source-form.ts';

export interface FilesDetail {
  files: File[];
  /** Folder name when a directory was picked or dropped. */
  folder?: string;
}

async function readEntry(entry: FileSystemEntry, path: string, out: File[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail));
    // Keep the relative path in the name's place the same way webkitdirectory does.
    Object.defineProperty(file, 'webkitRelativePath', { value: path + file.name });
    out.push(file);
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
    if (batch.length === 0) break;
    for (const e of batch) await readEntry(e, `${path}${entry.name}/`, out);
  }
}

@customElement('wt-drop-zone')
export class DropZone extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .zone {
        border: 1.5px dashed var(--wt-border-strong);
        border-radius: 10px;
        padding: 14px;
        text-align: center;
        color: var(--wt-muted);
        background: #fbfcfe;
      }
      .zone.over {
        border-color: var(--wt-accent);
        background: #eef3fd;
      }
    `,
  ];

  @property() label = '';
  @property() hint = '';
  @property() accept = '';
  @property({ type: Boolean }) directory = false;
  /** A model folder: picked through the File System Access API where there is one, so it reopens after a reload. */
  @property({ type: Boolean }) keep = false;
  @state() private over = false;
  @query('input') private input!: HTMLInputElement;

  private emitFiles(detail: FilesDetail) {
    if (detail.files.length)
      this.dispatchEvent(new CustomEvent<FilesDetail>('wt-files', { detail, bubbles: true, composed: true }));
  }

  private onPick() {
    const files = [...(this.input.files ?? [])];
    const folder = files[0]?.webkitRelativePath.split('/')[0] || undefined;
    this.emitFiles({ files, folder });
    this.input.value = '';
  }

  private async pick() {
    if (!(this.keep && this.directory && canKeepFolders())) return this.input.click();
    const picked = await pickFolder().catch(() => undefined);
    if (picked) this.emitFiles(picked);
  }

  private async onDrop(e: DragEvent) {
    e.preventDefault();
    this.over = false;
    const items = [...(e.dataTransfer?.items ?? [])];
    const entries = items.map((i) => i.webkitGetAsEntry?.()).filter((x): x is FileSystemEntry => !!x);
    if (this.directory && entries.length === 1 && entries[0].isDirectory) {
      const files: File[] = [];
      await readEntry(entries[0], '', files);
      this.emitFiles({ files, folder: entries[0].name });
    } else {
      this.emitFiles({ files: [...(e.dataTransfer?.files ?? [])] });
    }
  }

  override render() {
    return html`<div
      class="zone ${this.over ? 'over' : ''}"
      @dragover=${(e: DragEvent) => {
        e.preventDefault();
        this.over = true;
      }}
      @dragleave=${() => (this.over = false)}
      @drop=${this.onDrop}
    >
      <div class="row" style="justify-content:center">
        <button type="button" @click=${() => this.pick()}>${this.label}</button>
        <span>${this.hint}</span>
      </div>
      <input
        type="file"
        class="visually-hidden"
        tabindex="-1"
        aria-hidden="true"
        accept=${this.accept}
        ?webkitdirectory=${this.directory}
        ?multiple=${this.directory}
        @change=${this.onPick}
      />
    </div>`;
  }
}

declare global {
  interface HTMLElementEventMap {
    'wt-files': CustomEvent<FilesDetail>;
  }
}
