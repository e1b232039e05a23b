// The tool schema in the Data step: import, sample, export; each tool's name, parameters (with
// their values) and templates edited in place; problems listed by tool and field; and the
// build of training and held-out rows from it. Edits stay a draft until applied.

import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { formatSchemaIssue, type SchemaIssue } from '../../core/errors.ts';
import { emit } from '../app/actions.ts';
import type { FilesDetail } from '../shared/drop-zone.ts';
import '../shared/drop-zone.ts';
import { translator, type Translate } from '../shared/i18n.ts';
import { edit, type SchemaForm, type ToolForm } from './schema-form.ts';
import type { AppState } from '../app/state.ts';
import { panelStyles } from '../shared/styles.ts';

const value = (e: Event) => (e.target as HTMLInputElement | HTMLTextAreaElement).value;
const checked = (e: Event) => (e.target as HTMLInputElement).checked;

@customElement('wt-schema-editor')
export class SchemaEditor extends LitElement {
  static override styles = [
    panelStyles,
    css`
      details.tool {
        border: 1px solid var(--wt-border);
        border-radius: 8px;
        padding: 6px 10px;
        margin: 6px 0;
      }
      details.tool summary {
        cursor: pointer;
      }
      .grid {
        display: grid;
        grid-template-columns: 1fr 2fr;
        gap: 6px 10px;
        margin: 8px 0;
      }
      textarea {
        width: 100%;
        font-family: var(--wt-mono);
        font-size: 12px;
      }
      td textarea {
        min-height: 3.4em;
      }
      .issues {
        margin: 6px 0 0;
        padding-left: 20px;
        max-height: 200px;
        overflow: auto;
      }
      input.wide {
        width: 100%;
      }
    `,
  ];

  @property({ attribute: false }) state!: AppState;

  private set(form: SchemaForm) {
    emit(this, { type: 'editSchema', form });
  }

  private async importFiles(e: CustomEvent<FilesDetail>) {
    const f = e.detail.files[0];
    emit(this, { type: 'importSchema', name: f.name, text: await f.text() });
  }

  private problems(t: Translate, issues: SchemaIssue[], name: string) {
    return html`<div class="error" role="alert" data-testid="schema-issues">
      <strong>${t('schema.problems', { count: issues.length, name })}</strong>
      <ol class="issues">
        ${issues.slice(0, 100).map((i) => html`<li>${formatSchemaIssue(i)}</li>`)}
      </ol>
    </div>`;
  }

  private tool(t: Translate, f: SchemaForm, tool: ToolForm, i: number) {
    return html`<details class="tool" data-testid="schema-tool">
      <summary>${t('schema.toolSummary', { name: tool.name, params: tool.params.length, templates: tool.templates.split('\n').filter((l) => l.trim()).length })}</summary>
      <div class="grid">
        <label>${t('schema.toolName')} <input class="wide" data-field="tool-name" .value=${tool.name} @change=${(e: Event) => this.set(edit.tool(f, i, { name: value(e) }))} /></label>
        <label>${t('schema.description')} <input class="wide" .value=${tool.description} @change=${(e: Event) => this.set(edit.tool(f, i, { description: value(e) }))} /></label>
      </div>
      ${
        tool.params.length
          ? html`<table class="stack">
            <thead>
              <tr>
                <th>${t('schema.param.name')}</th>
                <th>${t('schema.param.required')}</th>
                <th>${t('schema.param.enum')}</th>
                <th>${t('schema.param.values')}</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              ${tool.params.map(
                (p, j) => html`<tr>
                  <td data-label=${t('schema.param.name')}><input .value=${p.name} aria-label=${t('schema.param.name')} @change=${(e: Event) => this.set(edit.param(f, i, j, { name: value(e) }))} /></td>
                  <td data-label=${t('schema.param.required')}><input type="checkbox" .checked=${p.required} aria-label=${t('schema.param.required')} @change=${(e: Event) => this.set(edit.param(f, i, j, { required: checked(e) }))} /></td>
                  <td data-label=${t('schema.param.enum')}><input type="checkbox" .checked=${p.isEnum} aria-label=${t('schema.param.enum')} @change=${(e: Event) => this.set(edit.param(f, i, j, { isEnum: checked(e) }))} /></td>
                  <td data-label=${t('schema.param.values')}><textarea rows="3" .value=${p.values} aria-label=${t('schema.param.values')} @change=${(e: Event) => this.set(edit.param(f, i, j, { values: value(e) }))}></textarea></td>
                  <td><button class="small" @click=${() => this.set(edit.removeParam(f, i, j))}>${t('schema.remove')}</button></td>
                </tr>`,
              )}
            </tbody>
          </table>`
          : nothing
      }
      <label>${t('schema.templates')}
        <textarea rows="5" data-field="templates" .value=${tool.templates} @change=${(e: Event) => this.set(edit.tool(f, i, { templates: value(e) }))}></textarea>
      </label>
      <div class="row">
        <button class="small" @click=${() => this.set(edit.addParam(f, i))}>${t('schema.addParam')}</button>
        <button class="small" @click=${() => this.set(edit.removeTool(f, i))}>${t('schema.remove')}</button>
      </div>
    </details>`;
  }

  private buildCard(t: Translate) {
    const s = this.state.schema;
    const b = s.build;
    const num = (key: 'perTool' | 'evalPerTool' | 'seed', min: number) => html`<label>${t(`build.${key}` as const)}
        <input type="number" min=${min} style="width:6em" data-field=${key} .value=${String(b[key])}
          @change=${(e: Event) => emit(this, { type: 'setBuild', patch: { [key]: Math.max(min, Math.floor(Number(value(e))) || min) } })} /></label>`;
    return html`<section class="card" aria-labelledby="build-h">
      <h3 id="build-h">${t('build.title')}</h3>
      <div class="row">${num('perTool', 1)} ${num('evalPerTool', 0)} ${num('seed', 0)}</div>
      <div class="row">
        <label>${t('build.split')}
          <select data-field="split" .value=${b.split} @change=${(e: Event) => emit(this, { type: 'setBuild', patch: { split: value(e) === 'values' ? 'values' : 'templates' } })}>
            <option value="templates" ?selected=${b.split === 'templates'}>${t('build.split.templates')}</option>
            <option value="values" ?selected=${b.split === 'values'}>${t('build.split.values')}</option>
          </select></label>
        <label>${t('build.variants')}
          <input type="number" min="0" max="100" step="5" style="width:5em" data-field="variants" .value=${String(Math.round(b.variants * 100))}
            @change=${(e: Event) => emit(this, { type: 'setBuild', patch: { variants: Math.min(100, Math.max(0, Number(value(e)) || 0)) / 100 } })} /></label>
      </div>
      <p class="muted small">${t(b.split === 'values' ? 'build.split.valuesHint' : 'build.split.templatesHint')} ${t('build.variantsHint')}</p>
      <div class="row" style="margin-top:8px">
        <button class="primary" data-action="build-data" ?disabled=${!s.applied && !s.form} @click=${() => emit(this, { type: 'buildData' })}>${t('build.run')}</button>
        ${s.built ? html`<span class="small" role="status" data-testid="build-done">${t('build.done', { train: s.built.train, eval: s.built.eval })}</span>` : nothing}
      </div>
    </section>`;
  }

  override render() {
    const t = translator(this.state.lang);
    const s = this.state.schema;
    const f = s.form;
    return html`<section class="card" aria-labelledby="schema-h" data-testid="schema-editor">
        <h3 id="schema-h">${t('schema.title')}</h3>
        <p class="muted small">${t('schema.lead')}</p>
        <wt-drop-zone label=${t('schema.import')} hint=${t('schema.drop')} accept=".json,application/json" @wt-files=${this.importFiles}></wt-drop-zone>
        <div class="row" style="margin-top:8px">
          <button data-action="sample-schema" @click=${() => emit(this, { type: 'loadSampleSchema' })}>${t('schema.sample')}</button>
          <button ?disabled=${!s.applied} @click=${() => emit(this, { type: 'exportSchema' })}>${t('schema.export')}</button>
          <button class="primary" data-action="apply-schema" ?disabled=${!s.dirty} @click=${() => emit(this, { type: 'applySchema' })}>${t('schema.apply')}</button>
        </div>
        ${s.applied ? html`<p class="small" data-testid="schema-in-use">${t('schema.inUse', { name: s.name ?? '', tools: s.applied.tools.length })}</p>` : html`<p class="muted small">${t('schema.none')}</p>`}
        ${s.dirty ? html`<p class="notice small">${t('schema.dirty')}</p>` : nothing}
        ${s.issues.length ? this.problems(t, s.issues, s.failed ?? '') : nothing}
        ${
          f
            ? html`<div class="grid">
                <label>${t('schema.system')} <input class="wide" .value=${f.system} @change=${(e: Event) => this.set(edit.top(f, { system: value(e) }))} /></label>
                <label>${t('schema.instruct')} <input class="wide" .value=${f.instruct} @change=${(e: Event) => this.set(edit.top(f, { instruct: value(e) }))} /></label>
              </div>
              ${f.tools.map((tool, i) => this.tool(t, f, tool, i))}
              <button class="small" @click=${() => this.set(edit.addTool(f))}>${t('schema.addTool')}</button>`
            : nothing
        }
      </section>
      ${f ? this.buildCard(t) : nothing}`;
  }
}
