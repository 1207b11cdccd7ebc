// Patients: search by name, ID and birth date (C-FIND's * and ? wildcards), paged.
import { api, query } from '../api.js';
import { setQuery } from '../app.js';
import { dicomDate, h, loadList, patientHref, table } from '../dom.js';

const kLimit = 50;

// "doe" → "doe*": a plain word finds names and IDs that start with it.
function pattern(text) {
  const t = text.trim();
  if (!t) return '';
  return /[*?]/.test(t) ? t : `${t}*`;
}

// "1950-01-31" → "19500131"; ranges "19500101-19591231", "19500101-", "-19591231" kept.
function birthDate(text) {
  const t = text.trim();
  if (/^(\d{8})?-(\d{8})?$/.test(t)) return t;
  return t.replace(/^(\d{4})[-/.](\d{2})[-/.](\d{2})$/, '$1$2$3');
}

export async function render(main, _params, search) {
  document.title = 'Patients — pacsnode';
  const name = h('input', { id: 'q-name', name: 'name', type: 'search', value: search.get('name') || '', autocomplete: 'off' });
  const id = h('input', { id: 'q-id', name: 'id', type: 'search', value: search.get('id') || '', autocomplete: 'off' });
  const born = h('input', { id: 'q-birth', name: 'birth_date', type: 'search', value: search.get('birth_date') || '',
    placeholder: 'YYYYMMDD or YYYYMMDD-YYYYMMDD', autocomplete: 'off' });
  const results = h('section', { id: 'patients-results', 'aria-live': 'polite' });
  let offset = Number(search.get('offset') || 0) || 0;

  async function load() {
    setQuery({ name: name.value.trim(), id: id.value.trim(), birth_date: born.value.trim(), offset: offset || '' });
    results.replaceChildren(h('p', { class: 'muted' }, 'Searching…'));
    const page = await loadList(() => api(`/api/patients${query({
      name: pattern(name.value), id: pattern(id.value), birth_date: birthDate(born.value), limit: kLimit, offset,
    })}`), (el) => results.replaceChildren(el), 'The search failed', 'No patient matches.');
    if (!page) return;
    const rows = page.items.map((p) => h('tr', { dataset: { patientId: p.patient_id } },
      h('td', {}, h('a', { href: patientHref(p.patient_id, p.issuer) }, p.name || '(no name)')),
      h('td', {}, p.patient_id),
      h('td', {}, p.issuer || '—'),
      h('td', {}, dicomDate(p.birth_date)),
      h('td', {}, p.sex || '—'),
      h('td', { class: 'num' }, p.studies),
      h('td', {}, dicomDate(p.last_study_date))));
    const first = page.offset + 1;
    const last = page.offset + page.items.length;
    const pager = h('div', { class: 'pager' },
      h('button', { type: 'button', disabled: page.offset === 0, onclick: () => { offset = Math.max(0, offset - kLimit); load(); } }, '← Previous'),
      h('span', { class: 'count' }, `${first}–${last} of ${page.total}`),
      h('button', { type: 'button', disabled: last >= page.total, onclick: () => { offset += kLimit; load(); } }, 'Next →'));
    results.replaceChildren(
      table(['Name', 'Patient ID', 'Issuer', 'Birth date', 'Sex', 'Studies', 'Last study'], rows, { id: 'patients-table' }),
      pager);
  }

  const form = h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); offset = 0; load(); } },
    h('label', { for: 'q-name' }, 'Name', name),
    h('label', { for: 'q-id' }, 'Patient ID', id),
    h('label', { for: 'q-birth' }, 'Birth date', born),
    h('button', { type: 'submit' }, 'Search'));
  main.append(
    h('h1', {}, 'Patients'),
    form,
    h('p', { class: 'hint' }, 'A word finds names and IDs that start with it; * and ? are wildcards (doe*, *^JOHN, PAT00?1). Names are matched without regard to case.'),
    results);
  await load();
  name.focus();
}
