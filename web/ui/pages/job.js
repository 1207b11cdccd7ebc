// One job, at its own address (/ui/jobs/{id}): what it is, its attempts, errors and output.
import { api } from '../api.js';
import { errorBox, h, timeText } from '../dom.js';
import { actionButtons, jobDetail, jobTarget, stateBadge } from '../jobs_common.js';

export async function render(main, [id]) {
  document.title = `Job ${id} — pacsnode`;
  main.append(h('p', { class: 'crumbs' }, h('a', { href: '/ui/jobs' }, 'Jobs'), ` › ${id}`));
  const status = h('div', { class: 'page-status', 'aria-live': 'polite' });
  const body = h('div');
  main.append(status, body);
  async function load() {
    let job;
    try {
      job = await api(`/api/jobs/${id}`);
    } catch (e) {
      body.replaceChildren(h('h1', {}, `Job ${id}`), errorBox(e));
      return;
    }
    body.replaceChildren(
      h('h1', {}, `Job ${id}: ${job.kind} ${jobTarget(job)} `, stateBadge(job.state)),
      h('p', {}, `Rule ${job.rule}; attempts ${job.attempts} of ${job.max_attempts}; updated ${timeText(job.updated_at)}`),
      job.last_error ? h('p', { class: 'error-text' }, `Last error: ${job.last_error}`) : null,
      actionButtons(job, load, (el) => status.replaceChildren(el)),
      await jobDetail(id));
  }
  await load();
  // A job that is still moving is followed (not while the user is on its buttons).
  const timer = setInterval(() => {
    if (document.hidden || body.contains(document.activeElement)) return;
    load();
  }, 5000);
  return () => clearInterval(timer);
}
