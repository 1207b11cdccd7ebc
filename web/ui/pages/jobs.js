// The job queue: filters (state, kind, rule, peer, plug-in) kept in the address, live counts
// per state, attempts, last error and a job's details (events, output tail), retry and
// cancel, "retry all dead", auto-refresh.
import { api, query } from '../api.js';
import { setQuery } from '../app.js';
import { errorBox, h, notice, table, timeText, uidCell, viewerHref } from '../dom.js';
import { actionButtons, jobDetail, jobTarget, kStates, stateBadge } from '../jobs_common.js';

const kLimit = 50;
const kRefreshMs = 5000;

function select(id, label, options, value) {
  return h('label', { for: id }, label,
    h('select', { id, name: id.replace('f-', '') },
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text))));
}

export async function render(main, _params, search) {
  document.title = 'Jobs — pacsnode';
  const filter = {
    state: search.get('state') || '', kind: search.get('kind') || '', rule: search.get('rule') || '',
    peer: search.get('peer') || '', plugin: search.get('plugin') || '',
  };
  let offset = Number(search.get('offset') || 0) || 0;
  const open = new Set();  // job IDs whose details are shown

  // Rules and peers for the filters' choices; the page works without them.
  const [rules, peers] = await Promise.all([
    api('/api/rules?limit=1000').then((r) => r.items.map((x) => x.name)).catch(() => []),
    api('/api/peers?limit=1000').then((r) => r.items.map((x) => x.name)).catch(() => []),
  ]);
  if (filter.rule && !rules.includes(filter.rule)) rules.push(filter.rule);
  if (filter.peer && !peers.includes(filter.peer)) peers.push(filter.peer);

  const counts = h('ul', { class: 'counts', id: 'job-counts', 'aria-label': 'Jobs by state' });
  const status = h('div', { class: 'page-status', 'aria-live': 'polite' });
  const list = h('section', { id: 'jobs-list' });
  const updated = h('span', { class: 'muted', id: 'jobs-updated' });
  const auto = h('input', { type: 'checkbox', id: 'auto-refresh', checked: true });

  const form = h('form', { class: 'filters', onchange: () => read(), onsubmit: (e) => { e.preventDefault(); read(); } },
    select('f-state', 'State', [['', 'any'], ...kStates.map((s) => [s, s])], filter.state),
    select('f-kind', 'Kind', [['', 'any'], ['forward', 'forward'], ['analyze', 'analyze']], filter.kind),
    select('f-rule', 'Rule', [['', 'any'], ...rules.map((r) => [r, r])], filter.rule),
    select('f-peer', 'Peer', [['', 'any'], ...peers.map((p) => [p, p])], filter.peer),
    h('label', { for: 'f-plugin' }, 'Plug-in', h('input', { id: 'f-plugin', type: 'search', value: filter.plugin })),
    h('button', { type: 'submit' }, 'Filter'));

  function read() {
    filter.state = form.querySelector('#f-state').value;
    filter.kind = form.querySelector('#f-kind').value;
    filter.rule = form.querySelector('#f-rule').value;
    filter.peer = form.querySelector('#f-peer').value;
    filter.plugin = form.querySelector('#f-plugin').value.trim();
    offset = 0;
    load();
  }

  async function retryDead() {
    try {
      const r = await api('/api/jobs/retry?state=dead', { method: 'POST' });
      status.replaceChildren(notice(r.retried === 0 ? 'No job was dead.' : `${r.retried} dead job${r.retried === 1 ? '' : 's'} queued again.`, 'ok'));
    } catch (e) {
      status.replaceChildren(errorBox(e, 'Retry all dead'));
    }
    load();
  }

  async function loadCounts(base) {
    const totals = await Promise.all(kStates.map((s) => api(`/api/jobs${query({ ...base, state: s, limit: 1 })}`).then((r) => r.total)));
    counts.replaceChildren(...kStates.map((s, i) => h('li', { dataset: { state: s, count: totals[i] } },
      h('button', { type: 'button', class: `count-button state-${s}`, 'aria-pressed': filter.state === s ? 'true' : 'false',
        onclick: () => { form.querySelector('#f-state').value = filter.state === s ? '' : s; read(); } },
      h('span', { class: 'n' }, totals[i]), ` ${s}`))));
  }

  let busy = false;
  let again = false;  // asked for while a load was under way: one more after it
  async function load() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    setQuery({ ...filter, offset: offset || '' });
    const base = { kind: filter.kind, rule: filter.rule, peer: filter.peer, plugin: filter.plugin };
    try {
      const [page] = await Promise.all([
        api(`/api/jobs${query({ ...base, state: filter.state, limit: kLimit, offset })}`),
        loadCounts(base),
      ]);
      const rows = [];
      for (const job of page.items) {
        const toggle = h('button', { type: 'button', class: 'toggle', 'aria-expanded': open.has(job.id) ? 'true' : 'false',
          onclick: () => { if (open.has(job.id)) open.delete(job.id); else open.add(job.id); load(); } }, open.has(job.id) ? 'Hide' : 'Details');
        rows.push(h('tr', { class: 'job', dataset: { jobId: job.id, state: job.state } },
          h('td', {}, h('a', { href: `/ui/jobs/${job.id}` }, job.id)),
          h('td', {}, job.kind),
          h('td', {}, jobTarget(job)),
          h('td', {}, job.rule),
          h('td', {}, h('a', { href: viewerHref(job.study_instance_uid), title: 'Open the study in the viewer' }, uidCell(job.study_instance_uid))),
          h('td', {}, stateBadge(job.state)),
          h('td', { class: 'num attempts' }, `${job.attempts} / ${job.max_attempts}`),
          h('td', { class: 'error-text last-error' }, job.last_error || ''),
          h('td', {}, timeText(job.updated_at)),
          h('td', {}, toggle, actionButtons(job, load, (el) => status.replaceChildren(el)))));
        if (open.has(job.id)) rows.push(h('tr', { class: 'detail-row' }, h('td', { colspan: 10 }, await jobDetail(job.id))));
      }
      const last = page.offset + page.items.length;
      list.replaceChildren(...[
        page.total === 0 ? h('p', { class: 'empty' }, 'No job matches.') :
          table(['ID', 'Kind', 'Target', 'Rule', 'Study', 'State', 'Attempts', 'Last error', 'Updated', ''], rows, { id: 'jobs-table' }),
        page.total > kLimit ? h('div', { class: 'pager' },
          h('button', { type: 'button', disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - kLimit); load(); } }, '← Older'),
          h('span', { class: 'count' }, `${page.offset + 1}–${last} of ${page.total} (oldest first)`),
          h('button', { type: 'button', disabled: last >= page.total, onclick: () => { offset += kLimit; load(); } }, 'Newer →')) : null,
      ].filter(Boolean));
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      list.replaceChildren(errorBox(e, 'The jobs could not be read'));
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      await load();
    }
  }

  main.append(
    h('h1', {}, 'Jobs'),
    counts,
    form,
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', id: 'retry-dead', onclick: retryDead }, 'Retry all dead'),
      h('label', { for: 'auto-refresh', class: 'inline' }, auto, ' Refresh every 5 s'),
      h('button', { type: 'button', onclick: () => load() }, 'Refresh now'),
      updated),
    status,
    list);
  await load();
  // Not while the user is working in the table (a refresh would take the focus away).
  const timer = setInterval(() => {
    if (!auto.checked || document.hidden) return;
    if (list.contains(document.activeElement) && document.activeElement !== document.body) return;
    load();
  }, kRefreshMs);
  return () => clearInterval(timer);
}
