// The page's side of service-worker updates (public/sw.js): when a new build's worker has
// installed and waits, a small bar offers a reload; accepting tells the worker to take over and
// reloads once it controls the page. Plain DOM, outside the app's state: it concerns the page,
// not the work in it, and must not interrupt a training run (the user picks the moment).

const TEXT = {
  en: { ready: 'A new version of Webtune is ready.', reload: 'Reload' },
  zh: { ready: 'Webtune 有新版本可用。', reload: '重新加载' },
};

function offer(waiting: ServiceWorker): void {
  if (document.querySelector('[data-testid="update-offer"]')) return;
  const t = document.documentElement.lang.startsWith('zh') ? TEXT.zh : TEXT.en;
  const bar = document.createElement('div');
  bar.dataset.testid = 'update-offer';
  bar.setAttribute('role', 'status');
  bar.style.cssText =
    'position:fixed;left:12px;right:12px;bottom:12px;z-index:1000;display:flex;gap:12px;align-items:center;justify-content:center;' +
    'padding:10px 14px;border-radius:8px;background:#1f2937;color:#fff;font:14px system-ui,sans-serif;box-shadow:0 4px 16px rgba(0,0,0,.3)';
  const label = document.createElement('span');
  label.textContent = t.ready;
  const button = document.createElement('button');
  button.textContent = t.reload;
  button.dataset.action = 'update-reload';
  button.addEventListener('click', () => {
    button.disabled = true;
    waiting.postMessage({ type: 'skip-waiting' });
  });
  bar.append(label, button);
  document.body.append(bar);
}

/** Registers the worker (never from the HTTP cache) and offers a reload whenever a new version waits. */
export async function registerWithUpdates(url: string): Promise<void> {
  const sw = navigator.serviceWorker;
  const hadController = !!sw.controller;
  const reg = await sw.register(url, { updateViaCache: 'none' });
  // Reload once when a new worker takes over a page an older one controlled.
  let reloaded = false;
  sw.addEventListener('controllerchange', () => {
    if (!hadController || reloaded) return;
    reloaded = true;
    location.reload();
  });
  const watch = (w: ServiceWorker | null) => {
    if (!w) return;
    const check = () => w.state === 'installed' && sw.controller && offer(w);
    w.addEventListener('statechange', check);
    check();
  };
  watch(reg.waiting);
  reg.addEventListener('updatefound', () => watch(reg.installing));
}
