// What the jobs list and a job's own page share: states, actions and the detail view.
import { api } from './api.js';
import { errorBox, h, notice, table, timeText, uidCell } from './dom.js';

export const kStates = ['queued', 'running', 'failed', 'dead', 'done', 'cancelled'];
// As db/job_states.cpp: retry leaves failed, dead and cancelled; cancel leaves queued,
// running and failed.
export const canRetry = (state) => ['failed', 'dead', 'cancelled'].includes(state);
export const canCancel = (state) => ['queued', 'running', 'failed'].includes(state);

export function stateBadge(state) {
  return h('span', { class: `state state-${state}` }, state);
}

// POST retry or cancel: what happened, in words (throws ApiError).
export async function jobAction(id, action) {
  const job = await api(`/api/jobs/${id}/${action}`, { method: 'POST' });
  return `Job ${id} ${action === 'retry' ? 'queued again' : 'cancelled'}: now ${job.state}.`;
}

export function jobTarget(job) {
  return job.kind === 'forward' ? `→ ${job.peer}` : job.kind === 'analyze' ? `⚙ ${job.plugin}` : job.target;
}

// A job's history, per-instance outcomes and plug-in output.
export async function jobDetail(id) {
  let d;
  try {
    d = await api(`/api/jobs/${id}`);
  } catch (e) {
    return h('div', { class: 'job-detail' }, errorBox(e, `Job ${id} could not be read`));
  }
  const events = d.events.map((e) => h('tr', {},
    h('td', {}, timeText(e.at)), h('td', {}, e.event), h('td', {}, e.from_state ? `${e.from_state} → ${e.to_state}` : e.to_state),
    h('td', { class: 'num' }, e.attempt), h('td', {}, e.owner || '—'), h('td', { class: 'error-text' }, e.error || '')));
  const parts = [
    h('dl', { class: 'facts' },
      h('dt', {}, 'Study'), h('dd', {}, uidCell(d.study_instance_uid)),
      d.series_instance_uid ? [h('dt', {}, 'Series'), h('dd', {}, uidCell(d.series_instance_uid))] : null,
      d.sop_instance_uid ? [h('dt', {}, 'Instance'), h('dd', {}, uidCell(d.sop_instance_uid))] : null,
      h('dt', {}, 'Level'), h('dd', {}, d.level),
      h('dt', {}, 'Firing'), h('dd', {}, d.firing > 1 ? `${d.firing} (an amendment)` : '1'),
      h('dt', {}, 'Created'), h('dd', {}, timeText(d.created_at)),
      h('dt', {}, 'Next attempt'), h('dd', {}, timeText(d.next_attempt_at)),
      d.note ? [h('dt', {}, 'Note'), h('dd', {}, d.note)] : null),
    h('h4', {}, 'Attempts and changes'),
    table(['At', 'Event', 'State', 'Attempt', 'Node', 'Error'], events),
  ];
  if (d.instances.length) {
    parts.push(h('h4', {}, `Instances (${d.instances.length})`),
      table(['SOP Instance UID', 'Outcome', 'Status', 'Attempt', 'Error'], d.instances.map((i) => h('tr', {},
        h('td', {}, uidCell(i.sop_instance_uid)), h('td', {}, i.outcome),
        h('td', {}, i.status === null ? '—' : `0x${i.status.toString(16).padStart(4, '0').toUpperCase()}`),
        h('td', { class: 'num' }, i.attempt), h('td', { class: 'error-text' }, i.error || '')))));
  }
  parts.push(h('h4', {}, 'Plug-in output (last lines)'),
    d.output_tail ? h('pre', { class: 'log' }, d.output_tail) : h('p', { class: 'muted' }, d.kind === 'analyze' ? 'No output.' : 'Not a plug-in job.'));
  return h('div', { class: 'job-detail', dataset: { jobId: id } }, parts);
}

// Retry and Cancel for the states they apply to; `report(element)` shows what happened,
// then `after()` (a reload) runs.
export function actionButtons(job, after, report) {
  const act = (action) => async (event) => {
    event.target.disabled = true;
    try {
      report(notice(await jobAction(job.id, action), 'ok'));
    } catch (e) {
      report(errorBox(e));
    }
    if (after) after();
  };
  return h('span', { class: 'actions' },
    canRetry(job.state) ? h('button', { type: 'button', class: 'retry', onclick: act('retry'), 'aria-label': `Retry job ${job.id}` }, 'Retry') : null,
    canCancel(job.state) ? h('button', { type: 'button', class: 'cancel', onclick: act('cancel'), 'aria-label': `Cancel job ${job.id}` }, 'Cancel') : null);
}
