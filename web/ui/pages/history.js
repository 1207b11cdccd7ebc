// A patient's history: every study on a timeline, and each tracked finding (a measurement
// of one tracking identifier) plotted over time with its unit and the change from the
// previous study, each point linked to its study in the viewer and to its report (SR).
import { api, query } from '../api.js';
import { timePlot } from '../chart.js';
import {
  dicomDate, dicomDateSeconds, errorBox, h, numberText, signedText, table, uidCell, unitText, viewerHref,
} from '../dom.js';

function studyTimeline(studies) {
  const dated = studies.filter((s) => dicomDateSeconds(s.study_date) !== null);
  if (dated.length === 0) return h('p', { class: 'muted' }, 'No study has a date: no timeline.');
  const times = dated.map((s) => dicomDateSeconds(s.study_date));
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  const line = h('div', { class: 'timeline-line' });
  const list = h('ol', { class: 'timeline', 'aria-label': 'Studies by date' }, line);
  const oldestFirst = [...dated].sort((a, b) => a.study_date.localeCompare(b.study_date));
  for (const s of oldestFirst) {
    const at = hi === lo ? 50 : (100 * (dicomDateSeconds(s.study_date) - lo)) / (hi - lo);
    const item = h('li', { class: 'timeline-item', dataset: { studyUid: s.study_instance_uid } },
      h('a', { href: `#study-${s.study_instance_uid}`, title: `${dicomDate(s.study_date)} ${s.modalities.join('/')} ${s.description}` },
        h('span', { class: 'dot' }),
        h('span', { class: 'label' }, dicomDate(s.study_date), h('br'), s.modalities.join('/') || '—')));
    item.style.left = `${at}%`;
    list.append(item);
  }
  return list;
}

// The findings grouped by what they track: one series of values per (tracking UID,
// measurement), oldest first.
function groupFindings(findings) {
  const groups = new Map();
  for (const f of findings) {
    const key = `${f.tracking_uid}|${f.measurement}`;
    if (!groups.has(key)) groups.set(key, { key, first: f, values: [] });
    groups.get(key).values.push(f);
  }
  for (const g of groups.values()) g.values.sort((a, b) => (a.study_date || '').localeCompare(b.study_date || ''));
  return [...groups.values()];
}

function findingTitle(f) {
  const what = [f.finding, f.laterality].filter(Boolean).join(', ');
  return `${f.tracking_identifier}${what ? ` — ${what}` : ''}: ${f.measurement}`;
}

export async function render(main, [patientId], search) {
  const issuer = search.get('issuer');
  document.title = `${patientId} — pacsnode`;
  let p;
  try {
    p = await api(`/api/patients/${encodeURIComponent(patientId)}${issuer === null ? '' : query({ issuer }) || '?issuer='}`);
  } catch (e) {
    main.append(h('h1', {}, `Patient ${patientId}`), errorBox(e, 'The patient could not be shown'),
      h('p', {}, h('a', { href: '/ui/patients' }, '← Search patients')));
    return undefined;
  }
  document.title = `${p.name || p.patient_id} — pacsnode`;
  const reports = new Map();  // study UID → SR SOP Instance UIDs
  for (const f of p.findings) {
    if (!f.report_sop_instance_uid) continue;
    if (!reports.has(f.study_instance_uid)) reports.set(f.study_instance_uid, new Set());
    reports.get(f.study_instance_uid).add(f.report_sop_instance_uid);
  }

  main.append(
    h('p', { class: 'crumbs' }, h('a', { href: '/ui/patients' }, 'Patients'), ' › ', p.patient_id),
    h('h1', { id: 'patient-name' }, p.name || '(no name)'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Patient ID'), h('dd', { id: 'patient-id' }, p.patient_id),
      h('dt', {}, 'Issuer'), h('dd', {}, p.issuer || '—'),
      h('dt', {}, 'Birth date'), h('dd', {}, dicomDate(p.birth_date)),
      h('dt', {}, 'Sex'), h('dd', {}, p.sex || '—'),
      h('dt', {}, 'Studies'), h('dd', {}, p.study_list.length)));

  const studyRows = p.study_list.map((s) => h('tr', { id: `study-${s.study_instance_uid}`, class: 'study', dataset: { studyUid: s.study_instance_uid } },
    h('td', {}, dicomDate(s.study_date)),
    h('td', {}, s.modalities.join(', ') || '—'),
    h('td', {}, s.description || '—'),
    h('td', {}, s.accession_number || '—'),
    h('td', { class: 'num' }, s.series),
    h('td', { class: 'num' }, s.instances),
    h('td', {}, [...(reports.get(s.study_instance_uid) || [])].map((sr, i) => [i ? ', ' : '',
      h('a', { href: viewerHref(s.study_instance_uid, sr), class: 'sr-link', title: `SR ${sr}` }, `SR ${i + 1}`)])),
    h('td', {}, h('a', { href: viewerHref(s.study_instance_uid), class: 'button-link' }, 'Open in viewer'))));
  main.append(h('section', { id: 'studies' },
    h('h2', {}, `Studies (${p.study_list.length})`),
    studyTimeline(p.study_list),
    table(['Date', 'Modalities', 'Description', 'Accession', 'Series', 'Instances', 'Reports', ''], studyRows, { id: 'studies-table' })));

  const groups = groupFindings(p.findings);
  const findings = h('section', { id: 'findings' }, h('h2', {}, `Tracked findings (${groups.length})`));
  main.append(findings);
  if (groups.length === 0) {
    findings.append(h('p', { class: 'empty' }, 'No findings: no analysis plug-in has reported on this patient\'s studies.'));
    return undefined;
  }
  const grid = h('div', { class: 'finding-grid' });
  findings.append(grid);
  const removers = [];
  for (const g of groups) {
    const unit = unitText(g.first.unit);
    const points = g.values.filter((v) => v.value !== null && dicomDateSeconds(v.study_date) !== null);
    const plot = h('div', { class: 'plot' });
    const rows = g.values.map((v) => h('tr', { class: 'point', dataset: { studyUid: v.study_instance_uid, value: v.value ?? '', change: v.change ?? '' } },
      h('td', {}, dicomDate(v.study_date)),
      h('td', { class: 'num value' }, numberText(v.value), unit ? ` ${unit}` : ''),
      h('td', { class: `num change ${v.change > 0 ? 'up' : v.change < 0 ? 'down' : ''}` }, v.change === null ? 'first' : `${signedText(v.change)}${unit ? ` ${unit}` : ''}`),
      h('td', {}, h('a', { href: viewerHref(v.study_instance_uid) }, 'Study')),
      h('td', {}, v.report_sop_instance_uid ? h('a', { href: viewerHref(v.study_instance_uid, v.report_sop_instance_uid), class: 'sr-link' }, 'SR') : '—')));
    const plugins = [...new Set(g.values.map((v) => `${v.plugin} ${v.plugin_version}`))].join(', ');
    const figure = h('figure', { class: 'finding', dataset: { trackingUid: g.first.tracking_uid, measurement: g.first.measurement, points: points.length } },
      h('figcaption', {}, h('h3', {}, findingTitle(g.first)),
        h('span', { class: 'unit' }, `${unit ? `in ${unit}; ` : ''}by ${plugins}`)),
      plot,
      table(['Study date', 'Value', 'Change', '', 'Report'], rows));
    grid.append(figure);
    const xs = points.map((v) => dicomDateSeconds(v.study_date));
    const ys = points.map((v) => v.value);
    removers.push(await timePlot(plot, xs, ys, {
      label: g.first.measurement, unit, dates: true, height: 180,
      onPick: (i) => { location.href = viewerHref(points[i].study_instance_uid); },
    }));
  }
  return () => removers.forEach((r) => r());
}
