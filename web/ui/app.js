// The web UI's router: every page has its own address under /ui/ (the server answers
// index.html for all of them), so pages can be bookmarked and linked from elsewhere —
// /ui/patients/{PatientID}?issuer= opens a patient's history. Links inside the UI change
// the page without reloading it.
import { clear, errorBox, h } from './dom.js';

const routes = [
  { pattern: /^\/ui\/?$/, nav: 'patients', load: () => import('./pages/patients.js') },
  { pattern: /^\/ui\/patients\/?$/, nav: 'patients', load: () => import('./pages/patients.js') },
  { pattern: /^\/ui\/patients\/([^/]+)\/?$/, nav: 'patients', load: () => import('./pages/history.js') },
  { pattern: /^\/ui\/jobs\/?$/, nav: 'jobs', load: () => import('./pages/jobs.js') },
  { pattern: /^\/ui\/jobs\/(\d+)\/?$/, nav: 'jobs', load: () => import('./pages/job.js') },
  { pattern: /^\/ui\/rules\/?$/, nav: 'rules', load: () => import('./pages/rules.js') },
  { pattern: /^\/ui\/peers\/?$/, nav: 'peers', load: () => import('./pages/peers.js') },
  { pattern: /^\/ui\/node\/?$/, nav: 'node', load: () => import('./pages/node.js') },
];

let cleanup = null;  // the current page's (timers, observers)
let generation = 0;

async function render() {
  const main = document.getElementById('page');
  const mine = ++generation;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a page's cleanup failing must not keep the next page from showing
    }
    cleanup = null;
  }
  const path = location.pathname;
  const route = routes.find((r) => r.pattern.test(path));
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (route && a.dataset.nav === route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  main.dataset.state = 'loading';
  if (!route) {
    document.title = 'Not found — pacsnode';
    main.append(h('h1', {}, 'Not found'),
      errorBox(`There is no page at ${path}. The pages are Patients, Jobs, Rules, Peers and Node (above).`));
    main.dataset.state = 'ready';
    return;
  }
  const params = path.match(route.pattern).slice(1).map(decodeURIComponent);
  try {
    const page = await route.load();
    if (mine !== generation) return;
    const result = await page.render(main, params, new URLSearchParams(location.search));
    if (mine !== generation) {
      if (typeof result === 'function') result();
      return;
    }
    cleanup = typeof result === 'function' ? result : null;
  } catch (e) {
    if (mine !== generation) return;
    main.append(errorBox(e, 'This page could not be shown'));
  }
  main.dataset.state = 'ready';
}

// Goes to a UI address (pushes it on the history unless `replace`).
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
  document.getElementById('page').focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

// The current address's query changed by a page itself (filters): no new render.
export function setQuery(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  history.replaceState(null, '', location.pathname + (s ? `?${s}` : ''));
}

document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/ui')) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', render);
render();
