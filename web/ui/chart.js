// Plots with uPlot (web/vendor/uplot/, fetched by scripts/viewer; never from a CDN). When
// it is missing the pages still show their tables, and say why there is no plot.
import { h } from './dom.js';

let loading = null;
function uplot() {
  if (!loading) loading = import('/ui/vendor/uplot/uPlot.esm.js').then((m) => m.default);
  return loading;
}

const kUtc = (ts) => new Date(ts * 1000 + new Date(ts * 1000).getTimezoneOffset() * 60000);

// A time plot into `container`: xs in seconds, ys numbers (or null). `options.onPick(i)` is
// called when point i is clicked; `options.dates` draws the x axis as calendar dates.
// Returns a function that removes the plot (and its resize observer).
export async function timePlot(container, xs, ys, { label, unit, onPick, dates = false, bars = false, height = 220 } = {}) {
  let U;
  try {
    U = await uplot();
  } catch (e) {
    container.append(h('p', { class: 'muted' }, `No plot: the charting library could not be loaded (${e.message}); scripts/viewer installs it.`));
    return () => {};
  }
  const width = () => Math.max(260, container.clientWidth || 600);
  let picked = null;
  const style = getComputedStyle(document.documentElement);
  const colour = style.getPropertyValue('--accent').trim() || '#1f5f8b';
  const opts = {
    width: width(),
    height,
    tzDate: dates ? kUtc : undefined,
    cursor: { drag: { x: false, y: false }, points: { size: 10 } },
    legend: { show: false },  // the pages list the values in a table
    scales: {
      // Bars are centred on their time: half a step of room on either side.
      x: { time: true, range: bars && xs.length > 1 ? (_, lo, hi) => [lo - (xs[1] - xs[0]) / 2, hi + (xs[1] - xs[0]) / 2] : undefined },
      y: { auto: true },
    },
    axes: [
      { stroke: '#555', grid: { stroke: '#e4e4e4' } },
      { stroke: '#555', grid: { stroke: '#e4e4e4' }, label: unit || undefined, size: 64 },
    ],
    series: [
      { label: dates ? 'Study date' : 'Time', value: dates ? '{YYYY}-{MM}-{DD}' : '{HH}:{mm}' },
      bars
        ? { label, stroke: colour, fill: `${colour}55`, width: 1, paths: U.paths.bars({ size: [0.8, 40] }), points: { show: false } }
        : { label, stroke: colour, width: 2, points: { show: true, size: 9, fill: colour }, value: (_, v) => (v === null ? '—' : `${v}${unit ? ` ${unit}` : ''}`) },
    ],
    hooks: {
      setCursor: [(u) => { picked = u.cursor.idx; }],
    },
  };
  const plot = new U(opts, [xs, ys], container);
  if (onPick) {
    plot.over.style.cursor = 'pointer';
    plot.over.addEventListener('click', () => { if (picked !== null && picked !== undefined) onPick(picked); });
  }
  const observer = new ResizeObserver(() => plot.setSize({ width: width(), height }));
  observer.observe(container);
  return () => {
    observer.disconnect();
    plot.destroy();
  };
}
