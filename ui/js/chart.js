// Charts of an answer's {"key": "chart"} row, drawn as SVG by this code:
// "line" (series over dates, with bands, thresholds, markers and levels),
// "heatmap" (a matrix of labels against labels) and "bars".  Each is an
// <svg role="img"> with a <title> and a <desc>, a visually hidden summary
// table for screen readers, and its whole data behind a disclosure.

import { h, s, uid } from './dom.js';
import { formatNumber } from './format.js';

const finite = (v) => typeof v === 'number' && Number.isFinite(v);
const numbersOrNull = (a) => Array.isArray(a) && a.every((v) => v === null || typeof v === 'number');
const strings = (a) => Array.isArray(a) && a.every((v) => typeof v === 'string');

// why a value is not a chart this code can draw (null: it is one)
export function chartProblem(c) {
  if (!c || typeof c !== 'object' || Array.isArray(c)) return 'not an object';
  if (c.type === 'line') {
    if (!strings(c.x)) return 'x must be a list of dates';
    if (!Array.isArray(c.series) || !c.series.length) return 'series must be a non-empty list';
    for (const sr of c.series) {
      if (!sr || typeof sr.name !== 'string' || !numbersOrNull(sr.values)) return 'each series needs a name and values';
    }
    for (const b of c.bands || []) {
      if (!b || !numbersOrNull(b.upper) || !numbersOrNull(b.lower)) return 'each band needs upper and lower values';
    }
    if (c.thresholds !== undefined && !(Array.isArray(c.thresholds) && c.thresholds.every(finite))) return 'thresholds must be numbers';
    for (const m of c.markers || []) if (!m || typeof m.x !== 'string') return 'each marker needs an x date';
    for (const l of c.levels || []) if (!l || !finite(l.y)) return 'each level needs a y';
    return null;
  }
  if (c.type === 'heatmap') {
    if (!strings(c.labels) || !c.labels.length) return 'labels must be a non-empty list';
    if (!Array.isArray(c.matrix) || c.matrix.length !== c.labels.length
        || !c.matrix.every((r) => numbersOrNull(r) && r.length === c.labels.length)) return 'matrix must be labels × labels numbers';
    return null;
  }
  if (c.type === 'bars') {
    if (!Array.isArray(c.labels) || !numbersOrNull(c.values) || c.labels.length !== c.values.length || !c.labels.length) {
      return 'labels and values must be lists of one length';
    }
    return null;
  }
  return `unknown chart type ${JSON.stringify(c.type)}`;
}

export function isChartRow(row) {
  return row && row.key === 'chart' && row.value && typeof row.value === 'object' && !Array.isArray(row.value);
}

// ticks at 1, 2, 2.5 or 5 times a power of ten, covering [min, max]
export function niceTicks(min, max, count = 5) {
  if (!(max > min)) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((st) => st >= raw);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo, k = 0; v <= hi + step / 1e6 && k < 50; k += 1, v = lo + k * step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (finite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

const DASHES = ['', '7 4', '2 3', '10 3 2 3', '4 4', '1 2'];
const PALETTE = 6;

function visuallyHiddenTable(caption, head, rows) {
  return h('table', { class: 'visually-hidden' },
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => (i === 0 ? h('th', { scope: 'row', text: c }) : h('td', { text: c })))))));
}

// the whole data, built when first opened
function dataDisclosure(label, build) {
  const details = h('details', { class: 'chart-data' }, h('summary', { text: label }));
  details.addEventListener('toggle', () => {
    if (details.open && !details.dataset.built) {
      details.dataset.built = '1';
      details.append(h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': label }, build()));
    }
  });
  return details;
}

function dataTable(caption, head, rows) {
  return h('table', { class: 'data' },
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col', text: c })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => (i === 0 ? h('th', { scope: 'row', text: c }) : h('td', { text: c })))))));
}

function frame(kind, title, desc, width, height, body) {
  const tid = uid('chart-title');
  const did = uid('chart-desc');
  const svg = s('svg', {
    class: `chart-svg chart-${kind}`, role: 'img', viewBox: `0 0 ${width} ${height}`,
    'aria-labelledby': tid, 'aria-describedby': did, width, height, preserveAspectRatio: 'xMidYMid meet',
    dataset: { type: kind },
  }, s('title', { id: tid, text: title }), s('desc', { id: did, text: desc }), body);
  return svg;
}

const fmt = (v) => (finite(v) ? formatNumber(v, 5) : '—');

// --- line -------------------------------------------------------------

function lineChart(c, title) {
  const W = 760;
  const H = 340;
  const M = { l: 68, r: 40, t: 28, b: 48 };
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const n = c.x.length;
  const bands = c.bands || [];
  const thresholds = c.thresholds || [];
  const markers = c.markers || [];
  const levels = c.levels || [];

  const all = [];
  for (const sr of c.series) all.push(...sr.values.slice(0, n));
  for (const b of bands) all.push(...b.upper.slice(0, n), ...b.lower.slice(0, n));
  all.push(...thresholds, ...levels.map((l) => l.y));
  const ext = extent(all) || [0, 1];
  const ticks = niceTicks(ext[0], ext[1], 5);
  const y0 = ticks[0];
  const y1 = ticks[ticks.length - 1];
  const px = (i) => M.l + (n <= 1 ? pw / 2 : (i * pw) / (n - 1));
  const py = (v) => M.t + ph - ((v - y0) / (y1 - y0)) * ph;
  const xy = (i, v) => `${px(i).toFixed(2)},${py(v).toFixed(2)}`;

  const g = [];
  // grid and y axis
  g.push(s('g', { class: 'grid', 'aria-hidden': 'true' },
    ticks.map((t) => s('line', { x1: M.l, x2: M.l + pw, y1: py(t), y2: py(t) })),
  ));
  g.push(s('g', { class: 'axis y-axis' },
    ticks.map((t) => s('text', { x: M.l - 8, y: py(t) + 4, 'text-anchor': 'end', text: formatNumber(t, 6) })),
    c.y_label ? s('text', { class: 'axis-label', transform: `translate(16 ${M.t + ph / 2}) rotate(-90)`, 'text-anchor': 'middle', text: c.y_label }) : null,
  ));
  // x axis: up to 6 dates
  const xt = [];
  const count = Math.min(n, 6);
  for (let k = 0; k < count; k += 1) {
    const i = count === 1 ? 0 : Math.round((k * (n - 1)) / (count - 1));
    if (!xt.includes(i)) xt.push(i);
  }
  g.push(s('g', { class: 'axis x-axis' },
    s('line', { x1: M.l, x2: M.l + pw, y1: M.t + ph, y2: M.t + ph }),
    xt.map((i) => s('g', {},
      s('line', { x1: px(i), x2: px(i), y1: M.t + ph, y2: M.t + ph + 5 }),
      s('text', { x: px(i), y: M.t + ph + 20, 'text-anchor': i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle', text: String(c.x[i]).slice(0, 10) }))),
  ));

  // bands: filled between upper and lower where both are known
  bands.forEach((b, k) => {
    const segs = [];
    let cur = [];
    for (let i = 0; i < n; i += 1) {
      if (finite(b.upper[i]) && finite(b.lower[i])) cur.push(i);
      else if (cur.length) {
        segs.push(cur);
        cur = [];
      }
    }
    if (cur.length) segs.push(cur);
    const d = segs.map((sg) => `M${sg.map((i) => xy(i, b.upper[i])).join('L')}L${sg.slice().reverse().map((i) => xy(i, b.lower[i])).join('L')}Z`).join('');
    g.push(s('path', { class: `band b${k % PALETTE}`, d, dataset: { name: b.name || 'band', points: segs.reduce((a, sg) => a + sg.length, 0) } }));
  });

  // thresholds and levels: horizontal lines labelled at the right
  thresholds.forEach((t) => {
    g.push(s('g', { class: 'threshold' },
      s('line', { x1: M.l, x2: M.l + pw, y1: py(t), y2: py(t) }),
      s('text', { x: M.l + pw + 6, y: py(t) + 4, text: formatNumber(t, 6) })));
  });
  // a level's label sits on its line inside the plot, at the left, the
  // upper half of the plot's above the line, the lower's below it
  levels.forEach((l) => {
    const above = py(l.y) > M.t + 16;
    g.push(s('g', { class: 'level', dataset: { y: l.y } },
      s('line', { x1: M.l, x2: M.l + pw, y1: py(l.y), y2: py(l.y) }),
      s('text', { class: 'halo', x: M.l + 6, y: above ? py(l.y) - 5 : py(l.y) + 14, text: `${l.label || 'level'} ${formatNumber(l.y, 5)}` })));
  });

  // series: a path each, broken where a value is null
  c.series.forEach((sr, k) => {
    let d = '';
    let pen = false;
    let points = 0;
    for (let i = 0; i < n; i += 1) {
      const v = sr.values[i];
      if (finite(v)) {
        d += `${pen ? 'L' : 'M'}${xy(i, v)}`;
        pen = true;
        points += 1;
      } else {
        pen = false;
      }
    }
    // a lone point has no length: a dot shows it
    g.push(s('path', {
      class: `series s${k % PALETTE}`, d, 'stroke-dasharray': DASHES[k % DASHES.length] || null,
      dataset: { name: sr.name, points },
    }));
    if (points === 1) {
      const i = sr.values.findIndex(finite);
      g.push(s('circle', { class: `dot s${k % PALETTE}`, cx: px(i), cy: py(sr.values[i]), r: 3 }));
    }
  });

  // markers: a vertical line at their date, labels staggered
  markers.forEach((m, k) => {
    let i = c.x.indexOf(m.x);
    if (i < 0) i = c.x.findIndex((x) => x >= m.x);
    if (i < 0) return;
    const label = m.label || m.x;
    const anchor = px(i) > M.l + pw * 0.8 ? 'end' : 'start';
    g.push(s('g', { class: 'marker', dataset: { x: m.x } },
      s('line', { x1: px(i), x2: px(i), y1: M.t, y2: M.t + ph }),
      s('path', { d: `M${px(i) - 5},${M.t + ph}l5,-8l5,8z` }),
      s('text', { x: px(i) + (anchor === 'start' ? 4 : -4), y: M.t - 14 + (k % 2) * 12, 'text-anchor': anchor, text: label })));
  });

  const names = c.series.map((sr) => sr.name);
  const first = c.x[0];
  const last = c.x[n - 1];
  const summaries = c.series.map((sr) => {
    const vals = sr.values.slice(0, n).filter(finite);
    const e = extent(vals);
    return [sr.name, String(vals.length), fmt(vals[0]), fmt(vals[vals.length - 1]), e ? fmt(e[0]) : '—', e ? fmt(e[1]) : '—'];
  });
  bands.forEach((b) => {
    for (const side of ['upper', 'lower']) {
      const vals = b[side].slice(0, n).filter(finite);
      const e = extent(vals);
      summaries.push([`${b.name || 'band'} ${side}`, String(vals.length), fmt(vals[0]), fmt(vals[vals.length - 1]), e ? fmt(e[0]) : '—', e ? fmt(e[1]) : '—']);
    }
  });
  const extras = [];
  if (thresholds.length) extras.push(`thresholds at ${thresholds.map((t) => formatNumber(t, 6)).join(' and ')}`);
  if (levels.length) extras.push(`levels: ${levels.map((l) => `${l.label || 'level'} ${formatNumber(l.y, 5)}`).join(', ')}`);
  if (markers.length) extras.push(`markers: ${markers.map((m) => `${m.label || ''} on ${m.x}`).join(', ')}`);
  const desc = `Line chart of ${names.join(', ')} over ${n} dates from ${first} to ${last}`
    + `${c.y_label ? `, in ${c.y_label}` : ''}. `
    + summaries.map((r) => `${r[0]}: from ${r[2]} to ${r[3]}, between ${r[4]} and ${r[5]}`).join('; ')
    + (extras.length ? `. With ${extras.join('; ')}.` : '.');

  const svg = frame('line', title, desc, W, H, g);

  const legend = h('ul', { class: 'legend', 'aria-label': 'Legend' },
    c.series.map((sr, k) => h('li', {}, swatch(`series s${k % PALETTE}`, DASHES[k % DASHES.length]), sr.name)),
    bands.map((b, k) => h('li', {}, swatchArea(`band b${k % PALETTE}`), b.name || 'band')),
    thresholds.length ? h('li', {}, swatch('threshold-line', '5 4'), `thresholds ${thresholds.join(', ')}`) : null,
    levels.map((l) => h('li', {}, swatch('level-line', '8 3'), `${l.label || 'level'} ${formatNumber(l.y, 5)}`)),
    markers.length ? h('li', {}, swatch('marker-line', '3 3'), `${markers.length} marker${markers.length > 1 ? 's' : ''}`) : null);

  const summary = visuallyHiddenTable(`${title}: summary`, ['Series', 'Points', 'First', 'Last', 'Minimum', 'Maximum'], summaries);
  const head = ['Date', ...names, ...bands.flatMap((b) => [`${b.name || 'band'} upper`, `${b.name || 'band'} lower`])];
  const all2 = dataDisclosure('Show the chart\'s data', () => dataTable(title, head, c.x.map((x, i) => [
    x, ...c.series.map((sr) => fmt(sr.values[i])), ...bands.flatMap((b) => [fmt(b.upper[i]), fmt(b.lower[i])]),
  ])));
  return [svg, legend, summary, all2];
}

function swatch(cls, dash) {
  return s('svg', { class: 'swatch', width: 28, height: 12, viewBox: '0 0 28 12', 'aria-hidden': 'true', focusable: 'false' },
    s('line', { class: cls, x1: 1, x2: 27, y1: 6, y2: 6, 'stroke-dasharray': dash || null }));
}

function swatchArea(cls) {
  return s('svg', { class: 'swatch', width: 28, height: 12, viewBox: '0 0 28 12', 'aria-hidden': 'true', focusable: 'false' },
    s('rect', { class: cls, x: 1, y: 1, width: 26, height: 10 }));
}

// --- heatmap ----------------------------------------------------------

function mix(a, b, t) {
  return a.map((x, i) => Math.round(x + (b[i] - x) * t));
}

function luminance(rgb) {
  const [r, g, b] = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a, b) {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

const NEG = [33, 102, 172];
const MID = [247, 247, 247];
const POS = [178, 24, 43];

// a cell's colour: blue below the middle, red above, white at it
export function heatColor(v, lo, hi) {
  const mid = lo < 0 && hi > 0 ? 0 : (lo + hi) / 2;
  if (v >= mid) return mix(MID, POS, hi > mid ? (v - mid) / (hi - mid) : 0);
  return mix(MID, NEG, mid > lo ? (mid - v) / (mid - lo) : 0);
}

const rgbText = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

function heatmapChart(c, title) {
  const n = c.labels.length;
  const cell = Math.max(22, Math.min(64, Math.floor(560 / n)));
  const left = 16 + Math.min(96, 8 * Math.max(...c.labels.map((l) => l.length)));
  const top = 30;
  const W = left + n * cell + 24;
  const H = top + n * cell + 70;
  const vals = c.matrix.flat();
  const ext = extent(vals) || [0, 1];
  const unit = ext[0] >= -1 && ext[1] <= 1;
  const lo = unit ? -1 : ext[0];
  const hi = unit ? 1 : ext[1];
  const showText = cell >= 30;

  const g = [];
  g.push(s('g', { class: 'axis' },
    c.labels.map((l, j) => s('text', { x: left + j * cell + cell / 2, y: top - 8, 'text-anchor': 'middle', text: l })),
    c.labels.map((l, i) => s('text', { x: left - 8, y: top + i * cell + cell / 2 + 4, 'text-anchor': 'end', text: l }))));
  const cells = [];
  c.matrix.forEach((row, i) => row.forEach((v, j) => {
    const known = finite(v);
    const fill = known ? heatColor(v, lo, hi) : [224, 224, 224];
    const ink = contrast(fill, [0, 0, 0]) >= contrast(fill, [255, 255, 255]) ? 'dark' : 'light';
    cells.push(s('g', {},
      s('rect', {
        class: 'cell', x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill: rgbText(fill),
        dataset: { row: c.labels[i], col: c.labels[j], value: known ? v : '' },
      }, s('title', { text: `${c.labels[i]} × ${c.labels[j]}: ${known ? formatNumber(v, 4) : 'no value'}` })),
      showText ? s('text', { class: `cell-text ink-${ink}`, x: left + j * cell + cell / 2, y: top + i * cell + cell / 2 + 4, 'text-anchor': 'middle', text: known ? v.toFixed(2) : '—' }) : null));
  }));
  g.push(s('g', { class: 'cells' }, cells));

  // the colour scale
  const gid = uid('heat-scale');
  const sw = Math.min(240, n * cell);
  const sy = top + n * cell + 24;
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => s('stop', { offset: `${t * 100}%`, 'stop-color': rgbText(heatColor(lo + (hi - lo) * t, lo, hi)) }));
  g.push(s('defs', {}, s('linearGradient', { id: gid, x1: '0', x2: '1', y1: '0', y2: '0' }, stops)));
  g.push(s('g', { class: 'scale axis' },
    s('rect', { x: left, y: sy, width: sw, height: 12, fill: `url(#${gid})`, class: 'scale-bar' }),
    s('text', { x: left, y: sy + 28, 'text-anchor': 'start', text: formatNumber(lo, 3) }),
    s('text', { x: left + sw / 2, y: sy + 28, 'text-anchor': 'middle', text: formatNumber(lo < 0 && hi > 0 ? 0 : (lo + hi) / 2, 3) }),
    s('text', { x: left + sw, y: sy + 28, 'text-anchor': 'end', text: formatNumber(hi, 3) })));

  // the strongest pair off the diagonal, for the description
  let best = null;
  c.matrix.forEach((row, i) => row.forEach((v, j) => {
    if (j > i && finite(v) && (!best || Math.abs(v) > Math.abs(best.v))) best = { i, j, v };
  }));
  const desc = `Heat map of ${n} by ${n} values for ${c.labels.join(', ')}, from ${fmt(ext[0])} to ${fmt(ext[1])}`
    + (best ? `; the strongest pair is ${c.labels[best.i]} and ${c.labels[best.j]} at ${formatNumber(best.v, 3)}.` : '.');
  const svg = frame('heatmap', title, desc, W, H, g);
  const rows = c.matrix.map((row, i) => [c.labels[i], ...row.map(fmt)]);
  const table = visuallyHiddenTable(`${title}: values`, ['Row', ...c.labels], rows);
  const all = dataDisclosure('Show the chart\'s data', () => dataTable(title, ['Row', ...c.labels], rows));
  return [svg, table, all];
}

// --- bars -------------------------------------------------------------

function barsChart(c, title) {
  const n = c.labels.length;
  const labels = c.labels.map(String);
  const longest = Math.max(...labels.map((l) => l.length));
  const rotate = n > 8 || longest * 7 > 640 / n;
  const W = 760;
  const H = 320 + (rotate ? Math.min(80, longest * 5) : 0);
  const M = { l: 68, r: 16, t: 24, b: rotate ? 24 + Math.min(100, longest * 6) : 44 };
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const ext = extent(c.values) || [0, 1];
  const ticks = niceTicks(Math.min(0, ext[0]), Math.max(0, ext[1]), 5);
  const y0 = ticks[0];
  const y1 = ticks[ticks.length - 1];
  const py = (v) => M.t + ph - ((v - y0) / (y1 - y0)) * ph;
  const band = pw / n;
  const bw = Math.max(2, band * 0.7);

  const g = [];
  g.push(s('g', { class: 'grid', 'aria-hidden': 'true' }, ticks.map((t) => s('line', { x1: M.l, x2: M.l + pw, y1: py(t), y2: py(t) }))));
  g.push(s('g', { class: 'axis y-axis' },
    ticks.map((t) => s('text', { x: M.l - 8, y: py(t) + 4, 'text-anchor': 'end', text: formatNumber(t, 6) })),
    c.y_label ? s('text', { class: 'axis-label', transform: `translate(16 ${M.t + ph / 2}) rotate(-90)`, 'text-anchor': 'middle', text: c.y_label }) : null));
  const bars = [];
  c.values.forEach((v, i) => {
    const x = M.l + i * band + (band - bw) / 2;
    if (finite(v)) {
      const top = Math.min(py(v), py(0));
      const height = Math.max(1, Math.abs(py(v) - py(0)));
      bars.push(s('rect', { class: `bar${v < 0 ? ' negative' : ''}`, x, y: top, width: bw, height, dataset: { label: labels[i], value: v } },
        s('title', { text: `${labels[i]}: ${formatNumber(v, 6)}` })));
      if (n <= 24) {
        bars.push(s('text', { class: 'bar-value', x: x + bw / 2, y: v < 0 ? py(v) + 14 : py(v) - 5, 'text-anchor': 'middle', text: formatNumber(v, 3) }));
      }
    } else {
      bars.push(s('rect', { class: 'bar missing', x, y: py(0) - 1, width: bw, height: 2, dataset: { label: labels[i], value: '' } }));
    }
  });
  g.push(s('g', { class: 'bars' }, bars));
  g.push(s('line', { class: 'baseline', x1: M.l, x2: M.l + pw, y1: py(0), y2: py(0) }));
  g.push(s('g', { class: 'axis x-axis' }, labels.map((l, i) => {
    const x = M.l + i * band + band / 2;
    return rotate
      ? s('text', { x, y: M.t + ph + 14, 'text-anchor': 'end', transform: `rotate(-40 ${x} ${M.t + ph + 14})`, text: l })
      : s('text', { x, y: M.t + ph + 18, 'text-anchor': 'middle', text: l });
  })));

  let best = 0;
  c.values.forEach((v, i) => {
    if (finite(v) && (!finite(c.values[best]) || v > c.values[best])) best = i;
  });
  const desc = `Bar chart of ${n} values${c.y_label ? ` in ${c.y_label}` : ''}, from ${fmt(ext[0])} to ${fmt(ext[1])}; `
    + `the largest is ${labels[best]} at ${fmt(c.values[best])}.`;
  const svg = frame('bars', title, desc, W, H, g);
  const rows = labels.map((l, i) => [l, fmt(c.values[i])]);
  const table = visuallyHiddenTable(`${title}: values`, ['Label', c.y_label || 'Value'], rows);
  const all = dataDisclosure('Show the chart\'s data', () => dataTable(title, ['Label', c.y_label || 'Value'], rows));
  return [svg, table, all];
}

// a <figure> for a chart value; a value that is no chart this code can
// draw says why instead
export function renderChart(c, title) {
  const problem = chartProblem(c);
  const name = title || 'Chart';
  if (problem) {
    return h('p', { class: 'chart-problem' }, `The answer's chart cannot be drawn: ${problem}.`);
  }
  const parts = c.type === 'line' ? lineChart(c, name) : c.type === 'heatmap' ? heatmapChart(c, name) : barsChart(c, name);
  return h('figure', { class: 'chart', dataset: { type: c.type } },
    h('figcaption', { text: name }),
    h('div', { class: 'chart-box' }, parts[0]),
    parts.slice(1));
}
