// The configured rules (evaluation order, expressions, last firing), and "try a file": a
// DICOM file posted to /api/rules/test, explained as `pacsnode rules test` explains it.
import { api, query } from '../api.js';
import { errorBox, h, loadList, table, timeText } from '../dom.js';

// One step of a rule's trace as the command line prints it: "TEXT at L:C: RESULT (DETAIL)".
function traceLines(step, depth) {
  const line = h('div', { class: 'trace-line', dataset: { result: step.result } },
    '  '.repeat(depth),
    h('code', {}, step.text), ` at ${step.line}:${step.column}: `,
    h('strong', { class: step.result ? 'yes' : 'no' }, String(step.result)),
    step.detail ? ` (${step.detail})` : '');
  return [line, ...(step.children || []).flatMap((c) => traceLines(c, depth + 1))];
}

function ruleHeading(r) {
  const where = r.on === 'instance' ? 'on instance' : `on ${r.on}: evaluated on this instance's attributes`;
  const flags = r.fallback ? ', fallback' : '';
  const verdict = r.matched ? 'matched' : r.suppressed ? 'not matched (a fallback: another rule matched)' : 'not matched';
  return h('div', { class: 'trace-head' }, `rule ${r.name} (${where}${flags}): `,
    h('strong', { class: r.matched ? 'yes' : 'no' }, verdict));
}

function explanation(result) {
  const facts = [['Modality', result.modality], ['SOP Class UID', result.sop_class_uid],
    ['SOP Instance UID', result.sop_instance_uid], ['Study Instance UID', result.study_instance_uid],
    ['Size', result.bytes === undefined ? undefined : `${result.bytes} bytes`]].filter(([, v]) => v !== undefined);
  return h('section', { id: 'rules-test-result', class: 'explanation', 'aria-live': 'polite' },
    h('h3', {}, `${result.matched} of ${result.rules.length} rule(s) matched`),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('div', { class: 'trace' }, result.rules.map((r) => h('div', { class: `trace-rule ${r.matched ? 'matched' : ''}`, dataset: { rule: r.name, matched: r.matched } },
      ruleHeading(r),
      traceLines(r.trace, 1),
      r.actions.map((a) => h('div', { class: 'trace-line would' }, '  ', a.would))))),
    h('h4', {}, 'Would do'),
    result.would_do.length
      ? h('ul', { class: 'would-do' }, result.would_do.map((w) => h('li', {}, w.replace(/^would /, ''))))
      : h('p', { class: 'muted' }, 'Nothing.'),
    h('p', { class: 'muted' }, 'Nothing was stored, sent or run.'));
}

function tryFile() {
  const file = h('input', { id: 'try-file', type: 'file', required: true });
  const calling = h('input', { id: 'try-calling-ae', type: 'text', maxlength: 16, placeholder: 'optional' });
  const called = h('input', { id: 'try-called-ae', type: 'text', maxlength: 16, placeholder: 'optional' });
  const host = h('input', { id: 'try-calling-host', type: 'text', placeholder: 'optional' });
  const out = h('div', { id: 'try-out' });
  const button = h('button', { type: 'submit', id: 'try-submit' }, 'Test the rules');
  const form = h('form', { class: 'try', id: 'try-form', onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) {
      out.replaceChildren(errorBox('Choose a DICOM file first.'));
      return;
    }
    button.disabled = true;
    out.replaceChildren(h('p', { class: 'muted' }, `Testing ${f.name}…`));
    try {
      const result = await api(`/api/rules/test${query({ calling_ae: calling.value.trim(), called_ae: called.value.trim(), calling_host: host.value.trim() })}`,
        { method: 'POST', body: f, type: 'application/dicom' });
      out.replaceChildren(h('p', {}, `File ${f.name}:`), explanation(result));
    } catch (err) {
      out.replaceChildren(errorBox(err, `${f.name} could not be tested`));
    } finally {
      button.disabled = false;
    }
  } },
  h('label', { for: 'try-file' }, 'DICOM file', file),
  h('label', { for: 'try-calling-ae' }, 'Calling AE', calling),
  h('label', { for: 'try-called-ae' }, 'Called AE', called),
  h('label', { for: 'try-calling-host' }, 'Calling host', host),
  button);
  return h('section', { id: 'try' }, h('h2', {}, 'Try a file'),
    h('p', { class: 'hint' }, 'Which rules would match this file, and why. Series and study rules are evaluated on the file\'s own attributes.'),
    form, out);
}

export async function render(main) {
  document.title = 'Rules — pacsnode';
  main.append(h('h1', {}, 'Rules'));
  const list = h('section', { id: 'rules-list' });
  main.append(list, tryFile());
  const rules = await loadList(() => api('/api/rules?limit=1000'), (el) => list.append(el),
    'The rules could not be read', 'No rules are configured ([[rules]] in the configuration).');
  if (!rules) return;
  const rows = rules.items.map((r) => h('tr', { dataset: { rule: r.name } },
    h('td', {}, h('strong', {}, r.name), r.fallback ? h('span', { class: 'tag' }, 'fallback') : null),
    h('td', {}, r.on, r.stable_after_seconds === null ? '' : h('div', { class: 'muted' }, `stable after ${r.stable_after_seconds} s`)),
    h('td', { class: 'num' }, r.priority),
    h('td', {}, h('code', { class: 'expr' }, r.when)),
    h('td', {}, h('ul', { class: 'plain' }, r.then.map((a) => h('li', {}, `${a.verb} ${a.target}`,
      a.peer ? h('span', { class: 'muted' }, ` (${a.peer.ae_title}@${a.peer.host}:${a.peer.port})`) : null)))),
    h('td', { class: 'last-fired' }, r.last_fired_at ? timeText(r.last_fired_at) : 'never',
      r.last_fired_at ? h('div', {}, h('a', { href: `/ui/jobs?rule=${encodeURIComponent(r.name)}` }, 'its jobs')) : null),
    h('td', { class: 'muted' }, r.origin)));
  list.append(h('p', {}, `${rules.total} rule(s), in evaluation order.`),
    table(['Rule', 'On', 'Priority', 'When', 'Then', 'Last fired', 'From'], rows, { id: 'rules-table' }));
}
