// The peers ([[peers]]): a C-ECHO button each, and their delivery health — forwards
// waiting, failing or dead, the back-off and the last error.
import { api } from '../api.js';
import { errorBox, h, loadList, table, timeText } from '../dom.js';

function health(p) {
  if (!p.jobs) return h('span', { class: 'muted' }, 'unknown (the database did not answer)');
  const d = p.delivery || {};
  const bad = p.jobs.failed + p.jobs.dead > 0 || d.consecutive_failures > 0;
  return h('div', { class: bad ? 'health bad' : 'health ok' },
    h('div', {}, bad ? 'Deliveries are failing' : 'No failures'),
    d.consecutive_failures ? h('div', {}, `${d.consecutive_failures} failure(s) in a row`) : null,
    d.blocked_until ? h('div', {}, `backed off until ${timeText(d.blocked_until)}`) : null,
    d.last_error ? h('div', { class: 'error-text' }, `last error: ${d.last_error}`) : null);
}

function jobLink(peer, state, n) {
  const text = `${n} ${state}`;
  return n > 0 ? h('a', { href: `/ui/jobs?peer=${encodeURIComponent(peer)}&state=${state}` }, text) : h('span', { class: 'muted' }, text);
}

export async function render(main) {
  document.title = 'Peers — pacsnode';
  main.append(h('h1', {}, 'Peers'));
  const peers = await loadList(() => api('/api/peers?limit=1000'), (el) => main.append(el),
    'The peers could not be read', 'No peers are configured ([[peers]] in the configuration).');
  if (!peers) return;
  const rows = peers.items.map((p) => {
    const result = h('div', { class: 'echo-result', role: 'status', 'aria-live': 'polite' });
    const button = h('button', { type: 'button', class: 'echo', 'aria-label': `C-ECHO ${p.name}`, onclick: async () => {
      button.disabled = true;
      result.replaceChildren(h('span', { class: 'muted' }, 'Echoing…'));
      try {
        const r = await api(`/api/peers/${encodeURIComponent(p.name)}/echo`, { method: 'POST' });
        result.dataset.ok = r.ok;
        result.replaceChildren(r.ok
          ? h('span', { class: 'ok' }, `✔ answered (status ${r.status}) in ${r.millis} ms`)
          : h('span', { class: 'bad' }, `✘ no answer: ${r.error}`));
      } catch (e) {
        result.dataset.ok = 'error';
        result.replaceChildren(errorBox(e));
      } finally {
        button.disabled = false;
      }
    } }, 'Echo');
    return h('tr', { dataset: { peer: p.name } },
      h('td', {}, h('strong', {}, p.name)),
      h('td', {}, `${p.ae_title}@${p.host}:${p.port}`),
      h('td', {}, p.jobs ? h('div', { class: 'job-links' },
        jobLink(p.name, 'queued', p.jobs.queued), ', ', jobLink(p.name, 'running', p.jobs.running), ', ',
        jobLink(p.name, 'failed', p.jobs.failed), ', ', jobLink(p.name, 'dead', p.jobs.dead)) : '—'),
      h('td', {}, health(p)),
      h('td', {}, button, result));
  });
  main.append(table(['Peer', 'Address', 'Forward jobs', 'Delivery', 'C-ECHO'], rows, { id: 'peers-table' }));
}
