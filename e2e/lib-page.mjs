// In-page helpers for the first-use flows: the app renders into shadow roots, so these walk them
// (querySelector does not), and read the element that really has the focus.

/** Functions evaluated in the page; each takes plain arguments and returns plain data. */
const DEEP = `
  const deepAll = (selector, root = document) => {
    const out = [...root.querySelectorAll(selector)];
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) out.push(...deepAll(selector, el.shadowRoot));
    return out;
  };
  const deep = (selector) => deepAll(selector)[0];
  const deepText = (selector) => (deep(selector)?.textContent ?? '').replace(/\\s+/g, ' ').trim();
  const focused = () => {
    let a = document.activeElement;
    while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    return a;
  };
  const inside = (el, selector) => {
    for (let n = el; n; n = n.parentNode || n.host) if (n.matches && n.matches(selector)) return true;
    return false;
  };
  const describe = (el) => !el || el === document.body ? 'body' :
    [el.tagName.toLowerCase(), el.id && '#' + el.id, el.dataset?.action && '[' + el.dataset.action + ']', el.dataset?.screen && '[' + el.dataset.screen + ']', (el.getAttribute('name') || '') && '@' + el.getAttribute('name')]
      .filter(Boolean).join('') + (inside(el, 'main') ? ' in main' : inside(el, 'header') ? ' in header' : inside(el, 'nav') ? ' in nav' : '');
  /** Waits until every Lit element of the page has rendered its latest state (no macrotask runs meanwhile). */
  const settled = async () => {
    for (let i = 0; i < 5; i++) for (const el of deepAll('*')) if (el.updateComplete) await el.updateComplete;
  };
`;

/** Runs `body` (source text using the helpers above and `arg`) in the page. */
export function inPage(page, body, arg) {
  // eslint-disable-next-line no-new-func
  return page.evaluate(({ src, arg }) => new Function('arg', src)(arg), {
    src: `${DEEP}\nreturn (async () => { ${body} })();`,
    arg,
  });
}

/** The element that has the focus, described as "button[start] in main". */
export function focusedElement(page) {
  return inPage(page, 'return describe(focused());');
}

/** Tab stops from the top of the page, as descriptions, up to `n`. */
export async function tabStops(page, n) {
  // A click on the title puts the start of sequential focus navigation at the top of the page.
  await inPage(page, 'window.scrollTo(0, 0);');
  await page.locator('webtune-app header h1').click();
  const stops = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    stops.push(await focusedElement(page));
  }
  return stops;
}
