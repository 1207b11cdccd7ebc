// Small helpers for building the pages: elements, formatting, errors.

// h('a', {href: '/ui/', class: 'x', onclick: fn, dataset: {k: v}}, 'text', child, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A message for the user, in words; role=alert so that screen readers say it.
export function errorBox(error, what) {
  return h('div', { class: 'error', role: 'alert' }, what ? `${what}: ` : '', error && error.message ? error.message : String(error));
}

// Awaits `load` (an API read of a list, {total, items}): when it fails or the list is
// empty, `show` gets the error box or the `empty` message and the answer is null.
export async function loadList(load, show, failure, empty) {
  let list;
  try {
    list = await load();
  } catch (e) {
    show(errorBox(e, failure));
    return null;
  }
  if (list.total === 0) {
    show(h('p', { class: 'empty' }, empty));
    return null;
  }
  return list;
}

export function notice(text, kind = 'info') {
  return h('div', { class: `notice ${kind}`, role: 'status' }, text);
}

// "20240110" → "2024-01-10"; "" or null → "—"
export function dicomDate(d) {
  if (!d) return '—';
  return d.length === 8 ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d;
}

// "20240110" → seconds since 1970 (UTC midnight)
export function dicomDateSeconds(d) {
  if (!d || d.length !== 8) return null;
  return Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8)) / 1000;
}

// An API timestamp ("2026-12-04T19:10:00.123+00", "…Z") as a Date; null when absent.
export function parseTime(text) {
  if (!text) return null;
  let t = text.replace(' ', 'T');
  if (/[+-]\d\d$/.test(t)) t += ':00';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function timeText(text) {
  const d = parseTime(text);
  return d ? d.toLocaleString() : '—';
}

export function bytesText(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function durationText(seconds) {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (d) return `${d} d ${hh} h ${mm} min`;
  if (hh) return `${hh} h ${mm} min`;
  if (mm) return `${mm} min ${ss} s`;
  return `${ss} s`;
}

// A measurement for reading: at most 4 decimals, fewer for large values.
export function numberText(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const abs = Math.abs(v);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 1 ? 2 : 4;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0, useGrouping: false });
}

export function signedText(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return (v > 0 ? '+' : v < 0 ? '−' : '±') + numberText(Math.abs(v));
}

// UCUM codes as people read them.
export function unitText(unit) {
  const known = { "[hnsf'U]": 'HU', cm3: 'cm³', mm3: 'mm³', mm2: 'mm²', cm2: 'cm²', ml: 'mL', '1': '', '%': '%' };
  if (unit === undefined || unit === null) return '';
  return Object.prototype.hasOwnProperty.call(known, unit) ? known[unit] : unit;
}

// A long UID shortened for a table, whole in the title.
export function uidCell(uid) {
  if (!uid) return '—';
  const short = uid.length > 22 ? `…${uid.slice(-18)}` : uid;
  return h('span', { class: 'uid', title: uid }, short);
}

export function viewerHref(studyUid, sopUid) {
  let href = `/viewer?StudyInstanceUIDs=${encodeURIComponent(studyUid)}`;
  if (sopUid) href += `&initialSOPInstanceUID=${encodeURIComponent(sopUid)}`;
  return href;
}

export function patientHref(patientId, issuer) {
  return `/ui/patients/${encodeURIComponent(patientId)}?issuer=${encodeURIComponent(issuer || '')}`;
}

// A table from column headers and rows of cells.
export function table(headers, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('thead', {}, h('tr', {}, headers.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
}
