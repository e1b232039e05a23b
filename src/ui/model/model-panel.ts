// Screen 1: where the base model comes from, which engine runs it, download progress, cache.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { EngineChoice, QuantChoice } from '../../worker/api.ts';
import { emit } from '../app/actions.ts';
import type { FilesDetail } from '../shared/drop-zone.ts';
import '../shared/drop-zone.ts';
import '../shared/error-box.ts';
import {
  formatBytes,
  formatDateTime,
  formatDuration,
  formatNumber,
  translator,
  type Translate,
} from '../shared/i18n.ts';
import './memory-card.ts';
import { engineLabel, engineWhy } from './engine-view.ts';
import { formOfKey, sourceIdOf } from './source-form.ts';
import './model-catalog.ts';
import type { AppState, SourceKind } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

const SOURCES: SourceKind[] = ['builtin', 'hf', 'modelscope', 'url', 'local'];
const ENGINES: EngineChoice[] = ['auto', 'webgpu', 'cpu'];
const QUANTS: QuantChoice[] = ['auto', 'none', 'nf4'];

@customElement('wt-model-panel')
export class ModelPanel extends LitElement {
  static override styles = [
    panelStyles,
    css`
      .choices {
        display: flex;
        gap: 6px;
        flex-wrap: wrap;
        margin-bottom: 12px;
      }
      .choices label {
        border: 1px solid var(--wt-border-strong);
        border-radius: 6px;
        padding: 5px 10px;
        cursor: pointer;
        font-weight: 500;
        background: #fff;
      }
      .choices label:has(input:checked) {
        border-color: var(--wt-accent);
        background: #eef3fd;
        color: var(--wt-accent-dark);
      }
      .choices input {
        margin: 0 6px 0 0;
      }
      .field {
        display: grid;
        gap: 4px;
        margin-bottom: 10px;
      }
      .field input {
        max-width: 420px;
      }
      .layout {
        --wt-left: 1.5fr;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private setSource(patch: Partial<AppState['source']>) {
    emit(this, { type: 'setSource', patch });
  }

  private sourceFields(t: Translate) {
    const f = this.state.source;
    switch (f.kind) {
      case 'builtin':
        return html`<p class="muted">${t('model.builtinHelp')}</p>`;
      case 'hf':
      case 'modelscope':
        return html`<wt-model-catalog .state=${this.state}></wt-model-catalog>
          <div class="field">
            <label for="repo">${t('model.repo')}</label>
            <input id="repo" type="text" .value=${f.repo} @change=${(e: Event) => this.setSource({ repo: (e.target as HTMLInputElement).value })} />
          </div>
          <div class="field">
            <label for="rev">${t('model.revision')}</label>
            <input id="rev" type="text" .value=${f.revision} @change=${(e: Event) => this.setSource({ revision: (e.target as HTMLInputElement).value })} />
          </div>`;
      case 'url':
        return html`<div class="field">
          <label for="url">${t('model.baseUrl')}</label>
          <input id="url" type="url" placeholder="https://example.org/models/qwen2.5-0.5b/" .value=${f.baseUrl} @change=${(e: Event) => this.setSource({ baseUrl: (e.target as HTMLInputElement).value })} />
        </div>`;
      case 'local':
        return html`<p class="muted small">${t('model.folderHelp')}</p>
          ${
            this.state.keptFolder
              ? html`<div class="notice small">
                <button class="primary" data-action="reopen-folder" @click=${() => emit(this, { type: 'reopenFolder' })}>${t('model.reopenFolder', { name: this.state.keptFolder })}</button>
                <div class="muted">${t('model.reopenHelp')}</div>
              </div>`
              : nothing
          }
          <wt-drop-zone
            directory
            keep
            label=${t('model.folder')}
            hint=${t('model.dropHere')}
            @wt-files=${(e: CustomEvent<FilesDetail>) => this.setSource({ files: e.detail.files, folderName: e.detail.folder ?? '' })}
          ></wt-drop-zone>
          ${f.files.length ? html`<p class="small" style="margin-top:6px">${t('model.filesPicked', { count: f.files.length, name: f.folderName || '—' })}</p>` : nothing}`;
    }
  }

  private progress(t: Translate) {
    const m = this.state.model;
    const p = m.progress;
    const lang = this.state.lang;
    if (m.status !== 'loading') return nothing;
    const total = p?.totalBytes ?? 0;
    return html`<div role="status" aria-live="polite" style="margin-top:12px">
      <div class="row" style="justify-content:space-between">
        <span>${p ? t(`model.phase.${p.phase}`) : t('model.loading')}${p?.fromCache ? ` (${t('model.fromCache')})` : ''}</span>
        ${
          p && p.bytesPerSec > 0
            ? html`<span class="muted small">${t('model.speed', { speed: formatBytes(lang, p.bytesPerSec), eta: formatDuration(lang, p.etaSec) })}</span>`
            : nothing
        }
      </div>
      <progress max=${total || 1} .value=${total ? p!.loadedBytes : 0} aria-label=${t('model.loading')}></progress>
      ${
        p?.file
          ? html`<div class="muted small">${t('model.progress', { file: p.file, done: formatBytes(lang, p.fileBytes), total: p.fileTotal ? formatBytes(lang, p.fileTotal) : '?' })}</div>`
          : nothing
      }
    </div>`;
  }

  private summary(t: Translate) {
    const sm = this.state.model.summary;
    const lang = this.state.lang;
    if (this.state.model.status !== 'ready' || !sm) return nothing;
    const c = sm.config;
    return html`<div class="notice" data-testid="model-ready" role="status">
      <strong>✓ ${t('model.loaded', { name: sm.sourceKey.startsWith('builtin:') ? t('model.builtinName') : sm.name })}</strong>
      <div class="small">${t('model.params', { count: formatNumber(lang, sm.paramCount), lora: formatNumber(lang, sm.loraParamCount) })}</div>
      <div class="small muted">${t('model.shape', { layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, vocab: formatNumber(lang, c.vocabSize) })}</div>
      <div class="small muted">${t('engine.using', { device: engineLabel(sm.engine, t) })}</div>
      <div class="small muted" data-testid="model-quant">${t(sm.quant === 'nf4' ? 'quant.loadedNf4' : 'quant.loaded16', { cached: sm.nf4FromCache ?? 0 })}</div>
    </div>`;
  }

  private engineCard(t: Translate) {
    const s = this.state;
    const probe = s.probe;
    const loadedEngine = s.model.loadedWith?.engine;
    const decision = s.model.summary?.engineDecision;
    return html`<section class="card" aria-labelledby="engine-h">
      <h3 id="engine-h">${t('engine.title')}</h3>
      <div class="choices" role="radiogroup" aria-labelledby="engine-h">
        ${ENGINES.map(
          (e) => html`<label
            ><input
              type="radio"
              name="engine"
              value=${e}
              .checked=${s.engineChoice === e}
              ?disabled=${e === 'webgpu' && probe !== undefined && !probe.webgpu}
              @change=${() => emit(this, { type: 'setEngine', engine: e })}
            />${t(`engine.${e}`)}</label
          >`,
        )}
      </div>
      <p class="small" data-testid="probe">
        ${
          !probe
            ? t('engine.probing')
            : !probe.webgpu
              ? t('engine.gpuMissing')
              : probe.software
                ? t('engine.softwareFound', { software: probe.software })
                : t('engine.gpuFound', { adapter: probe.adapter ?? '?' })
        }
      </p>
      ${decision && s.model.status === 'ready' ? html`<p class="small notice" data-testid="engine-why">${engineWhy(t, s.lang, decision)}</p>` : nothing}
      ${probe && !probe.webgpu && probe.reason ? html`<p class="muted small">${probe.reason}</p>` : nothing}
      <p class="muted small">${t('engine.help')}</p>
      ${loadedEngine && loadedEngine !== s.engineChoice ? html`<p class="small">${t('engine.reloadNeeded')}</p>` : nothing}
      <h4 id="quant-h" style="margin:12px 0 4px">${t('quant.title')}</h4>
      <div class="choices" role="radiogroup" aria-labelledby="quant-h">
        ${QUANTS.map(
          (q) => html`<label
            ><input type="radio" name="quant" value=${q} .checked=${s.quantChoice === q} @change=${() => emit(this, { type: 'setQuant', quant: q })} />${t(`quant.${q}`)}</label
          >`,
        )}
      </div>
      <p class="muted small">${t('quant.help')}</p>
      ${s.model.loadedWith && s.model.loadedWith.quant !== s.quantChoice ? html`<p class="small">${t('quant.reloadNeeded')}</p>` : nothing}
    </section>`;
  }

  private adapterCard(t: Translate) {
    const s = this.state;
    const a = s.adapter;
    const ready = s.model.status === 'ready';
    return html`<section class="card" aria-labelledby="adapter-h">
      <h3 id="adapter-h">${t('adapter.title')}</h3>
      <p class="muted small">${t('adapter.help')}</p>
      ${
        ready
          ? html`<wt-drop-zone
            directory
            data-testid="adapter-picker"
            label=${t('adapter.pick')}
            hint=${t('adapter.drop')}
            @wt-files=${(e: CustomEvent<FilesDetail>) => emit(this, { type: 'importAdapter', files: e.detail.files, folder: e.detail.folder })}
          ></wt-drop-zone>`
          : html`<p class="small">${t('adapter.needModel')}</p>`
      }
      ${a.busy ? html`<p class="small" role="status">${t('model.loading')}</p>` : nothing}
      ${
        a.name && !a.busy
          ? html`<p class="ok small" role="status" data-testid="adapter-applied">✓ ${t('adapter.applied', { name: a.name, r: a.r ?? '', alpha: a.alpha ?? '', targets: a.targets ?? '' })}</p>`
          : nothing
      }
      <wt-error .error=${a.error} language=${s.lang}></wt-error>
    </section>`;
  }

  private cacheCard(t: Translate) {
    const s = this.state;
    const busy =
      s.model.status === 'loading' || ['starting', 'running', 'paused', 'pausing'].includes(s.training.state);
    return html`<section class="card" aria-labelledby="cache-h">
      <h3 id="cache-h">${t('model.cached')}</h3>
      ${
        s.cachedModels.length === 0
          ? html`<p class="muted small">${t('model.cachedNone')}</p>`
          : html`<table>
            <tbody>
              ${s.cachedModels.map(
                (m) => html`<tr data-testid="cached-model">
                  <td>${m.name}</td>
                  <td class="muted small">${formatDateTime(s.lang, m.updatedAt)}</td>
                  <td class="num">${formatBytes(s.lang, m.bytes)}</td>
                  <td class="num">
                    ${
                      m.complete && formOfKey(m.sourceKey)
                        ? html`<button class="small" data-action="load-cached" ?disabled=${busy} @click=${() => emit(this, { type: 'loadCached', sourceKey: m.sourceKey })}>${t('model.loadCached')}</button>`
                        : nothing
                    }
                    <button class="small" @click=${() => emit(this, { type: 'deleteCachedModel', sourceKey: m.sourceKey })}>${t('model.delete')}</button>
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>`
      }
    </section>`;
  }

  override render() {
    const s = this.state;
    const t = translator(s.lang);
    const loading = s.model.status === 'loading';
    const training = ['starting', 'running', 'paused', 'pausing'].includes(s.training.state);
    return html`<h2>${t('model.title')}</h2>
      <p class="lead">${t('model.lead')}</p>
      <div class="layout">
        <div>
          <section class="card" aria-labelledby="source-h">
            <h3 id="source-h">${t('model.source')}</h3>
            <div class="choices" role="radiogroup" aria-labelledby="source-h">
              ${SOURCES.map(
                (k) => html`<label
                  ><input type="radio" name="source" value=${k} .checked=${s.source.kind === k} @change=${() => this.setSource({ kind: k })} />${t(`model.source.${k}`)}</label
                >`,
              )}
            </div>
            ${this.sourceFields(t)}
            <div class="row" style="margin-top:8px">
              <button class="primary" ?disabled=${loading || training} @click=${() => emit(this, { type: 'loadModel' })}>
                ${loading ? t('model.loading') : s.model.status === 'ready' && s.model.loadedWith?.source === sourceIdOf(s.source, document.baseURI) ? t('model.reload') : t('model.load')}
              </button>
              ${
                loading && s.model.progress?.phase === 'download'
                  ? html`<button data-action="cancel-load" @click=${() => emit(this, { type: 'cancelLoad' })}>${t('model.cancel')}</button>`
                  : nothing
              }
            </div>
            ${this.progress(t)}
            <wt-error .error=${s.model.error} language=${s.lang}></wt-error>
            ${this.summary(t)}
          </section>
          ${this.adapterCard(t)} ${this.cacheCard(t)}
        </div>
        <div>
          ${this.engineCard(t)}
          <wt-memory-card .state=${s}></wt-memory-card>
        </div>
      </div>`;
  }
}
