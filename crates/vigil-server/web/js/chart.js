// Charts as SVG: a time chart (lines over a time axis), bar and column charts, a pie
// chart, and the timeline of an incident's alerts. Every mark carries a <title>, which
// browsers show as a tooltip and screen readers read. Colours come from CSS classes.

import { svg, h, text, isIsoTime, shortTime } from './dom.js';

const WIDTH = 880;
const SERIES_COLOURS = 8;
const NUMERIC_TYPES = ['long', 'int', 'real', 'decimal'];

// "Nice" steps for a numeric axis: 1, 2 or 5 times a power of ten.
function niceStep(span, ticks) {
  const raw = span / Math.max(1, ticks);
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  const unit = raw / power;
  const nice = unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10;
  return nice * power;
}

// Ticks from a round number at or below `min` to the first at or above `max`.
function numberTicks(min, max, count = 5) {
  if (min === max) {
    max = min + 1;
    min = Math.min(0, min);
  }
  const step = niceStep(max - min, count);
  const ticks = [Math.floor(min / step) * step];
  while (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [SECOND, 5 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 5 * MINUTE,
  15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY,
  14 * DAY, 30 * DAY, 91 * DAY, 365 * DAY];

function timeTicks(min, max, count = 6) {
  const span = Math.max(max - min, SECOND);
  const step = TIME_STEPS.find((s) => span / s <= count) || TIME_STEPS[TIME_STEPS.length - 1];
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max; t += step) ticks.push(t);
  return { ticks, step };
}

function timeLabel(ms, step) {
  const iso = new Date(ms).toISOString();
  if (step >= DAY) return iso.slice(0, 10);
  if (step >= MINUTE) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(11, 19);
}

function numberLabel(v) {
  const abs = Math.abs(v);
  if (abs >= 1e9) return `${(v / 1e9).toFixed(abs >= 1e10 ? 0 : 1)}G`;
  if (abs >= 1e6) return `${(v / 1e6).toFixed(abs >= 1e7 ? 0 : 1)}M`;
  if (abs >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  return v.toLocaleString('en', { maximumFractionDigits: 2 });
}

function scale(domainMin, domainMax, rangeMin, rangeMax) {
  const span = domainMax - domainMin || 1;
  return (v) => rangeMin + ((v - domainMin) / span) * (rangeMax - rangeMin);
}

function frame(height, label, className) {
  return svg('svg', {
    class: ['chart', className],
    viewBox: `0 0 ${WIDTH} ${height}`,
    role: 'img',
    'aria-label': label,
    preserveAspectRatio: 'xMidYMid meet',
  });
}

function legend(names) {
  if (names.length < 2) return null;
  return h('ul', { class: 'chart-legend' }, names.map((name, i) =>
    h('li', null, h('span', { class: `swatch series-${i % SERIES_COLOURS}` }), name)));
}

function wrap(title, chart, names = []) {
  return h('figure', { class: 'chart-figure' },
    title ? h('figcaption', null, title) : null,
    chart,
    legend(names));
}

/**
 * A line chart over time. series: [{name, points: [[ms, value], …]}].
 */
export function timeChart(series, { title = '', numericX = false } = {}) {
  const height = 300;
  const pad = { left: 64, right: 20, top: 16, bottom: 40 };
  const all = series.flatMap((s) => s.points);
  const chart = frame(height, title || 'Time chart', 'time-chart');
  if (!all.length) return wrap(title, chart);
  const times = all.map((p) => p[0]);
  const values = all.map((p) => p[1]);
  const tMin = Math.min(...times);
  const tMax = Math.max(...times);
  const yTicks = numberTicks(Math.min(0, ...values), Math.max(...values));
  const x = scale(tMin, tMax === tMin ? tMin + 1 : tMax, pad.left, WIDTH - pad.right);
  const y = scale(yTicks[0], yTicks[yTicks.length - 1], height - pad.bottom, pad.top);

  const grid = svg('g', { class: 'axis axis-y' });
  for (const v of yTicks) {
    grid.append(
      svg('line', { class: 'grid', x1: pad.left, x2: WIDTH - pad.right, y1: y(v), y2: y(v) }),
      svg('text', { x: pad.left - 8, y: y(v) + 4, 'text-anchor': 'end' }, numberLabel(v)));
  }
  const xAxis = svg('g', { class: 'axis axis-x' },
    svg('line', { class: 'baseline', x1: pad.left, x2: WIDTH - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }));
  const { ticks, step } = numericX
    ? { ticks: numberTicks(tMin, tMax, 6).filter((t) => t >= tMin && t <= tMax), step: 0 }
    : timeTicks(tMin, tMax);
  for (const t of ticks) {
    xAxis.append(
      svg('line', { class: 'tick', x1: x(t), x2: x(t), y1: height - pad.bottom, y2: height - pad.bottom + 5 }),
      svg('text', { x: x(t), y: height - pad.bottom + 18, 'text-anchor': 'middle' },
        numericX ? numberLabel(t) : timeLabel(t, step)));
  }
  const xText = (t) => (numericX ? t.toLocaleString('en') : shortTime(new Date(t).toISOString()));
  chart.append(grid, xAxis);

  series.forEach((s, i) => {
    const points = [...s.points].sort((a, b) => a[0] - b[0]);
    const colour = `series-${i % SERIES_COLOURS}`;
    const d = points.map((p, n) => `${n ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
    const group = svg('g', { class: `series ${colour}` }, svg('path', { class: 'line', d }));
    for (const [t, v] of points) {
      group.append(svg('circle', { class: 'mark', cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 3 },
        svg('title', null, `${s.name ? `${s.name}\n` : ''}${xText(t)}: ${v.toLocaleString('en')}`)));
    }
    chart.append(group);
  });
  return wrap(title, chart, series.map((s) => s.name));
}

/** Bars: horizontal for a bar chart, vertical for a column chart. */
export function barChart(items, { title = '', horizontal = true } = {}) {
  const shown = items.slice(0, 40);
  const max = Math.max(0, ...shown.map((i) => i.value));
  const ticks = numberTicks(0, max || 1, 4);
  const top = ticks[ticks.length - 1];
  let chart;
  if (horizontal) {
    const row = 22;
    const pad = { left: 200, right: 60, top: 8, bottom: 28 };
    const height = pad.top + pad.bottom + shown.length * row;
    chart = frame(height, title || 'Bar chart', 'bar-chart');
    const x = scale(0, top, pad.left, WIDTH - pad.right);
    const axis = svg('g', { class: 'axis axis-x' });
    for (const t of ticks) {
      axis.append(
        svg('line', { class: 'grid', x1: x(t), x2: x(t), y1: pad.top, y2: height - pad.bottom }),
        svg('text', { x: x(t), y: height - pad.bottom + 16, 'text-anchor': 'middle' }, numberLabel(t)));
    }
    chart.append(axis);
    shown.forEach((item, n) => {
      const y0 = pad.top + n * row;
      const label = item.label.length > 30 ? `${item.label.slice(0, 29)}…` : item.label;
      chart.append(
        svg('text', { class: 'bar-label', x: pad.left - 8, y: y0 + row / 2 + 4, 'text-anchor': 'end' }, label),
        svg('rect', {
          class: 'mark bar series-0', x: pad.left, y: y0 + 3,
          width: Math.max(1, x(item.value) - pad.left).toFixed(1), height: row - 6,
        }, svg('title', null, `${item.label}: ${item.value.toLocaleString('en')}`)),
        svg('text', { class: 'bar-value', x: x(item.value) + 6, y: y0 + row / 2 + 4 }, numberLabel(item.value)));
    });
  } else {
    const height = 300;
    const pad = { left: 64, right: 16, top: 16, bottom: 70 };
    chart = frame(height, title || 'Column chart', 'column-chart');
    const y = scale(0, top, height - pad.bottom, pad.top);
    const slot = (WIDTH - pad.left - pad.right) / Math.max(1, shown.length);
    const axis = svg('g', { class: 'axis axis-y' });
    for (const t of ticks) {
      axis.append(
        svg('line', { class: 'grid', x1: pad.left, x2: WIDTH - pad.right, y1: y(t), y2: y(t) }),
        svg('text', { x: pad.left - 8, y: y(t) + 4, 'text-anchor': 'end' }, numberLabel(t)));
    }
    chart.append(axis);
    shown.forEach((item, n) => {
      const x0 = pad.left + n * slot;
      const label = item.label.length > 14 ? `${item.label.slice(0, 13)}…` : item.label;
      const lx = x0 + slot / 2;
      const ly = height - pad.bottom + 14;
      chart.append(
        svg('rect', {
          class: 'mark bar series-0', x: (x0 + slot * 0.15).toFixed(1), y: y(item.value).toFixed(1),
          width: (slot * 0.7).toFixed(1), height: Math.max(1, height - pad.bottom - y(item.value)).toFixed(1),
        }, svg('title', null, `${item.label}: ${item.value.toLocaleString('en')}`)),
        svg('text', {
          class: 'bar-label', x: lx, y: ly, 'text-anchor': 'end',
          transform: `rotate(-35 ${lx} ${ly})`,
        }, label));
    });
  }
  const note = items.length > shown.length ? ` (first ${shown.length} of ${items.length})` : '';
  return wrap(title ? `${title}${note}` : note.trim(), chart);
}

/** A pie chart; beyond nine slices the rest are summed as "Other". */
export function pieChart(items, { title = '' } = {}) {
  const sorted = [...items].filter((i) => i.value > 0).sort((a, b) => b.value - a.value);
  const slices = sorted.slice(0, 9);
  const rest = sorted.slice(9).reduce((sum, i) => sum + i.value, 0);
  if (rest > 0) slices.push({ label: 'Other', value: rest });
  const total = slices.reduce((sum, i) => sum + i.value, 0);
  const height = 280;
  const chart = frame(height, title || 'Pie chart', 'pie-chart');
  const cx = 150;
  const cy = height / 2;
  const r = 120;
  let angle = -Math.PI / 2;
  slices.forEach((item, n) => {
    const share = total ? item.value / total : 0;
    const next = angle + share * Math.PI * 2;
    const colour = `series-${n % SERIES_COLOURS}`;
    const label = `${item.label}: ${item.value.toLocaleString('en')} (${(share * 100).toFixed(1)}%)`;
    let shape;
    if (share >= 0.9999) {
      shape = svg('circle', { class: `mark slice ${colour}`, cx, cy, r });
    } else {
      const large = next - angle > Math.PI ? 1 : 0;
      const d = `M${cx},${cy}L${(cx + r * Math.cos(angle)).toFixed(2)},${(cy + r * Math.sin(angle)).toFixed(2)}`
        + `A${r},${r} 0 ${large} 1 ${(cx + r * Math.cos(next)).toFixed(2)},${(cy + r * Math.sin(next)).toFixed(2)}Z`;
      shape = svg('path', { class: `mark slice ${colour}`, d });
    }
    shape.append(svg('title', null, label));
    chart.append(shape);
    chart.append(
      svg('rect', { class: `swatch-rect ${colour}`, x: 310, y: 24 + n * 24, width: 12, height: 12 }),
      svg('text', { class: 'pie-label', x: 330, y: 34 + n * 24 }, label));
    angle = next;
  });
  return wrap(title, chart);
}

/**
 * The timeline of an incident's alerts: time across, one lane per tactic, one mark per
 * alert coloured by severity. alerts: [{time (ms), title, severity, lane, detail}].
 */
export function incidentTimeline(alerts, { title = 'Alert timeline' } = {}) {
  const lanes = [];
  for (const a of alerts) if (!lanes.includes(a.lane)) lanes.push(a.lane);
  const laneHeight = 34;
  const pad = { left: 170, right: 24, top: 12, bottom: 40 };
  const height = pad.top + pad.bottom + Math.max(1, lanes.length) * laneHeight;
  const chart = frame(height, title, 'timeline');
  if (!alerts.length) return wrap(title, chart);
  const times = alerts.map((a) => a.time);
  let tMin = Math.min(...times);
  let tMax = Math.max(...times);
  const margin = Math.max((tMax - tMin) * 0.04, MINUTE);
  tMin -= margin;
  tMax += margin;
  const x = scale(tMin, tMax, pad.left, WIDTH - pad.right);
  const laneY = (lane) => pad.top + lanes.indexOf(lane) * laneHeight + laneHeight / 2;

  lanes.forEach((lane, n) => {
    const y0 = pad.top + n * laneHeight;
    chart.append(
      svg('rect', { class: n % 2 ? 'lane lane-odd' : 'lane', x: pad.left, y: y0, width: WIDTH - pad.left - pad.right, height: laneHeight }),
      svg('text', { class: 'lane-label', x: pad.left - 10, y: y0 + laneHeight / 2 + 4, 'text-anchor': 'end' },
        lane.length > 24 ? `${lane.slice(0, 23)}…` : lane));
  });
  const axis = svg('g', { class: 'axis axis-x' },
    svg('line', { class: 'baseline', x1: pad.left, x2: WIDTH - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }));
  const { ticks, step } = timeTicks(tMin, tMax, 7);
  for (const t of ticks) {
    axis.append(
      svg('line', { class: 'grid', x1: x(t), x2: x(t), y1: pad.top, y2: height - pad.bottom }),
      svg('text', { x: x(t), y: height - pad.bottom + 18, 'text-anchor': 'middle' }, timeLabel(t, step)));
  }
  chart.append(axis);

  // Alerts close in time in one lane are nudged apart so each stays visible.
  const lastX = new Map();
  for (const a of [...alerts].sort((p, q) => p.time - q.time)) {
    const wanted = x(a.time);
    const previous = lastX.get(a.lane);
    const cx = previous !== undefined && wanted - previous < 10 ? previous + 10 : wanted;
    lastX.set(a.lane, cx);
    const sev = (a.severity || 'unknown').toLowerCase().replace(/[^a-z]+/g, '-');
    chart.append(svg('circle', {
      class: `mark sev-${sev}`,
      cx: cx.toFixed(1),
      cy: laneY(a.lane),
      r: 6,
    }, svg('title', null,
      `${shortTime(new Date(a.time).toISOString())} · ${a.severity || 'unknown severity'}\n${a.title}${a.detail ? `\n${a.detail}` : ''}`)));
  }
  return wrap(title, chart);
}

// --- Choosing a chart for a query result -------------------------------------------

function columnKinds(result) {
  const { columns = [], types = [], rows = [] } = result;
  return columns.map((name, i) => {
    const type = types[i];
    const sample = rows.map((r) => r[i]).filter((v) => v !== null && v !== undefined).slice(0, 20);
    const time = type === 'datetime' || (!type && sample.length > 0 && sample.every(isIsoTime))
      || (type === 'string' && sample.length > 0 && sample.every(isIsoTime));
    const numeric = NUMERIC_TYPES.includes(type)
      || (!type && sample.length > 0 && sample.every((v) => typeof v === 'number'));
    return { name, index: i, time, numeric };
  });
}

const asNumber = (v) => (typeof v === 'number' ? v : Number(v));

/**
 * The chart a query result asks for (its `render`), or a time chart when it has a time
 * column and a numeric one; null when no chart fits.
 */
export function chartForResult(result) {
  const rows = result.rows || [];
  if (!rows.length) return null;
  const kinds = columnKinds(result);
  const byName = (name) => kinds.find((k) => k.name === name);
  const render = result.render || null;
  const kind = render ? String(render.kind || render.chart || '').toLowerCase() : '';
  if (kind === 'table') return null;
  const title = render && render.title ? render.title : '';

  const numericCols = () => {
    const wanted = render && Array.isArray(render.y) && render.y.length ? render.y.map(byName).filter(Boolean) : [];
    return wanted.length ? wanted : kinds.filter((k) => k.numeric);
  };

  if (['timechart', 'linechart', 'areachart', 'scatterchart', 'stackedareachart'].includes(kind) || !kind) {
    const xCol = (render && render.x && byName(render.x)) || kinds.find((k) => k.time)
      || (kind && kind !== 'timechart' ? kinds.find((k) => k.numeric) : null);
    const yCols = numericCols().filter((k) => k !== xCol);
    if (!xCol || !yCols.length || (!kind && !xCol.time)) return null;
    const splitCol = kinds.find((k) => k !== xCol && !yCols.includes(k) && !k.numeric && !k.time);
    const xValue = (v) => (xCol.time ? Date.parse(v) : asNumber(v));
    const series = new Map();
    for (const row of rows) {
      const xv = xValue(row[xCol.index]);
      if (!Number.isFinite(xv)) continue;
      for (const y of yCols) {
        const yv = asNumber(row[y.index]);
        if (!Number.isFinite(yv)) continue;
        const name = [splitCol ? text(row[splitCol.index]) : null, yCols.length > 1 || !splitCol ? y.name : null]
          .filter((p) => p !== null).join(' · ');
        if (!series.has(name)) series.set(name, []);
        series.get(name).push([xv, yv]);
      }
    }
    const list = [...series.entries()].slice(0, SERIES_COLOURS).map(([name, points]) => ({ name, points }));
    if (!xCol.time) {
      // A numeric x axis (linechart over numbers): shown on the same axes, labelled as numbers.
      return timeChart(list, { title: title || `${yCols.map((k) => k.name).join(', ')} by ${xCol.name}`, numericX: true });
    }
    return timeChart(list, { title: title || `${yCols.map((k) => k.name).join(', ')} over ${xCol.name}` });
  }

  const labelCol = (render && render.x && byName(render.x)) || kinds.find((k) => !k.numeric) || kinds[0];
  const valueCol = numericCols().find((k) => k !== labelCol);
  if (!valueCol) return null;
  const items = rows.map((row) => ({
    label: labelCol.time ? shortTime(row[labelCol.index]) : text(row[labelCol.index]) || '(empty)',
    value: asNumber(row[valueCol.index]) || 0,
  }));
  const caption = title || `${valueCol.name} by ${labelCol.name}`;
  if (kind === 'piechart') return pieChart(items, { title: caption });
  if (kind === 'barchart') return barChart(items, { title: caption, horizontal: true });
  if (kind === 'columnchart' || kind === 'stackedcolumnchart') return barChart(items, { title: caption, horizontal: false });
  return null;
}
