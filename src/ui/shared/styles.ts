// Shared look of every panel: one palette, one spacing scale, plain form controls with visible
// focus. Components adopt `panelStyles` and add only what is theirs.

import { css } from 'lit';

/** The SVG charts (loss curve, token-length histogram): full width, small axis labels. */
export const chartStyles = css`
  :host {
    display: block;
  }
  svg {
    width: 100%;
    height: auto;
    font: 11px var(--wt-font);
  }
  .tick {
    fill: var(--wt-muted);
  }
`;

export const panelStyles = css`
  :host {
    display: block;
    color: var(--wt-text);
    font: 14px/1.5 var(--wt-font);
  }
  * {
    box-sizing: border-box;
  }
  h2 {
    font-size: 20px;
    font-weight: 600;
    margin: 0 0 4px;
  }
  h3 {
    font-size: 15px;
    font-weight: 600;
    margin: 0 0 8px;
  }
  p {
    margin: 0 0 8px;
  }
  .lead {
    color: var(--wt-muted);
    margin-bottom: 16px;
  }
  .card {
    background: var(--wt-surface);
    border: 1px solid var(--wt-border);
    border-radius: 10px;
    padding: 16px 18px;
    margin-bottom: 14px;
  }
  .row {
    display: flex;
    gap: 12px;
    align-items: center;
    flex-wrap: wrap;
  }
  .grid2 {
    display: grid;
    grid-template-columns: 1fr 1fr;
    gap: 14px;
  }
  .muted {
    color: var(--wt-muted);
  }
  .small {
    font-size: 12.5px;
  }
  label {
    font-weight: 500;
  }
  input[type='text'],
  input[type='number'],
  input[type='url'],
  select,
  textarea {
    font: inherit;
    color: inherit;
    background: #fff;
    border: 1px solid var(--wt-border-strong);
    border-radius: 6px;
    padding: 5px 8px;
  }
  textarea {
    width: 100%;
    resize: vertical;
  }
  input:focus-visible,
  select:focus-visible,
  textarea:focus-visible,
  button:focus-visible {
    outline: 2px solid var(--wt-accent);
    outline-offset: 1px;
  }
  button {
    font: inherit;
    font-weight: 500;
    border-radius: 6px;
    border: 1px solid var(--wt-border-strong);
    background: #fff;
    color: var(--wt-text);
    padding: 6px 14px;
    cursor: pointer;
  }
  button:hover:not(:disabled) {
    background: var(--wt-hover);
  }
  button.primary {
    background: var(--wt-accent);
    border-color: var(--wt-accent);
    color: #fff;
  }
  button.primary:hover:not(:disabled) {
    background: var(--wt-accent-dark);
  }
  button:disabled {
    opacity: 0.5;
    cursor: not-allowed;
  }
  .error {
    border: 1px solid #f1b5b5;
    background: #fdf2f2;
    color: #8a1c1c;
    border-radius: 8px;
    padding: 10px 12px;
    margin: 8px 0;
  }
  .error strong {
    display: block;
  }
  .notice {
    border: 1px solid #b9d3f3;
    background: #f1f6fd;
    border-radius: 8px;
    padding: 10px 12px;
    margin: 8px 0;
  }
  .ok {
    color: var(--wt-ok);
  }
  table {
    border-collapse: collapse;
    width: 100%;
  }
  th,
  td {
    text-align: left;
    padding: 5px 8px;
    border-bottom: 1px solid var(--wt-border);
    vertical-align: top;
  }
  th {
    font-weight: 600;
    color: var(--wt-muted);
    font-size: 12.5px;
  }
  tbody th {
    color: var(--wt-text);
    font-size: inherit;
  }
  td.num,
  th.num {
    text-align: right;
    font-variant-numeric: tabular-nums;
  }
  code,
  .mono {
    font-family: var(--wt-mono);
    font-size: 12.5px;
  }
  .stats {
    display: grid;
    grid-template-columns: repeat(auto-fill, minmax(130px, 1fr));
    gap: 10px;
  }
  .stat {
    border: 1px solid var(--wt-border);
    border-radius: 8px;
    padding: 8px 10px;
    background: #fff;
  }
  .stat .label {
    color: var(--wt-muted);
    font-size: 12px;
  }
  .stat .value {
    font-size: 18px;
    font-weight: 600;
    font-variant-numeric: tabular-nums;
  }
  progress {
    width: 100%;
    height: 8px;
  }
  /* Equal columns: cards or form fields two abreast (--wt-gap changes the spacing). */
  .columns {
    display: grid;
    grid-template-columns: repeat(2, minmax(0, 1fr));
    gap: var(--wt-gap, 14px);
  }
  /* Two columns side by side; a panel sets their ratio with --wt-left and --wt-right. */
  .layout {
    display: grid;
    grid-template-columns: minmax(0, var(--wt-left, 1fr)) minmax(0, var(--wt-right, 1fr));
    gap: 14px;
    align-items: start;
  }
  /* A phone or a narrow window: one column everywhere. */
  @media (max-width: 900px) {
    .grid2,
    .columns,
    .layout {
      grid-template-columns: minmax(0, 1fr);
    }
  }
  /* A phone: a wide table scrolls inside its card instead of widening the page. */
  @media (max-width: 720px) {
    .card {
      padding: 12px;
      overflow-x: auto;
    }
  }
  /*
   * A phone: a table marked "stack" becomes one block per row, each cell under its column's name
   * (data-label), so nothing is cut at the card's edge (issue 22, point 5).
   */
  @media (max-width: 720px) {
    table.stack,
    table.stack tbody,
    table.stack tr,
    table.stack td,
    table.stack tbody th {
      display: block;
      width: auto;
    }
    table.stack thead,
    table.stack colgroup {
      display: none;
    }
    table.stack tr {
      border-bottom: 1px solid var(--wt-border);
      padding: 6px 0;
    }
    table.stack td,
    table.stack tbody th {
      border: none;
      padding: 2px 0;
      text-align: left;
    }
    table.stack td[data-label]::before {
      content: attr(data-label);
      display: block;
      color: var(--wt-muted);
      font-size: 12px;
    }
  }
  .visually-hidden {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
`;
