// The node: version, uptime, storage used and free, the index's counts, the database's
// status, and instances received per minute over the last hour.
import { api } from '../api.js';
import { timePlot } from '../chart.js';
import { bytesText, durationText, errorBox, h, parseTime } from '../dom.js';

const kRefreshMs = 15000;

export async function render(main) {
  document.title = 'Node — pacsnode';
  const facts = h('section', { id: 'node-facts' });
  const plot = h('div', { class: 'plot', id: 'arrivals-plot' });
  const plotNote = h('p', { class: 'muted', id: 'arrivals-total' });
  main.append(h('h1', {}, 'Node'), facts,
    h('section', { id: 'arrivals' }, h('h2', {}, 'Instances received per minute (last hour)'), plotNote, plot));

  let removePlot = () => {};
  async function load() {
    try {
      const s = await api('/api/system');
      const used = s.storage.used_bytes;
      const free = s.storage.free_bytes;
      const db = s.database.status;
      facts.replaceChildren(h('dl', { class: 'facts wide' },
        h('dt', {}, 'Version'), h('dd', { id: 'node-version' }, s.version),
        h('dt', {}, 'Up for'), h('dd', { id: 'node-uptime' }, durationText(s.uptime_seconds)),
        h('dt', {}, 'DICOM'), h('dd', {}, `${s.ae_title} on port ${s.dicom_port}`),
        h('dt', {}, 'Database'), h('dd', { id: 'node-database', class: db === 'ok' ? 'ok' : 'bad' }, db === 'ok' ? 'ok' : `not answering: ${db}`),
        h('dt', {}, 'Storage'), h('dd', { id: 'node-storage' },
          `${bytesText(used)} used, ${bytesText(free)} free`, h('div', { class: 'muted' }, s.storage.root),
          used !== null && free ? h('meter', { min: 0, max: used + free, value: used, title: 'used of used + free' }) : null),
        h('dt', {}, 'Index'), h('dd', { id: 'node-counts' }, s.counts
          ? `${s.counts.patients} patients, ${s.counts.studies} studies, ${s.counts.series} series, ${s.counts.instances} instances`
          : '—')));
    } catch (e) {
      facts.replaceChildren(errorBox(e, 'The node could not be read'));
    }
    try {
      const a = await api('/api/system/arrivals?minutes=60');
      plotNote.textContent = `${a.instances} instance(s) in the last ${a.minutes} minutes.`;
      plot.dataset.points = a.items.length;
      removePlot();
      plot.replaceChildren();
      removePlot = await timePlot(plot, a.items.map((m) => parseTime(m.minute).getTime() / 1000), a.items.map((m) => m.instances),
        { label: 'Instances', unit: 'per minute', bars: true, height: 180 });
    } catch (e) {
      plot.replaceChildren(errorBox(e, 'The arrivals could not be read'));
    }
  }
  await load();
  const timer = setInterval(() => { if (!document.hidden) load(); }, kRefreshMs);
  return () => {
    clearInterval(timer);
    removePlot();
  };
}
