// Stacked bars as inline SVG (no chart library, nothing loaded from outside).
import { h, svg } from './dom.js';

// One bar per bucket, each stacked from `series` ({key, label, color, legend}).
// `keyOf(bucket)` names the bucket ("hour" or "day"), `labelOf(key)` writes it for the
// axis, and `span` says what the whole range is ("the last 24 hours").
export function bars(buckets, series, label, { keyOf, labelOf, span }) {
  const totals = buckets.map((b) => series.reduce((sum, s) => sum + (Number(b[s.key]) || 0), 0));
  const max = Math.max(1, ...totals);
  // Room on the left for the largest count, at the bigger font a phone uses.
  const width = 480; const height = 150; const bottom = 20; const top = 8;
  const left = 12 + String(max).length * 9;
  const plotW = width - left - 4; const plotH = height - bottom - top;
  const step = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, step * 0.7);
  // Four labels whatever the number of bars (each in the middle of its stretch), so
  // they never overlap, not even at a phone's larger font.
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 4));
  const labelFirst = Math.floor(labelEvery / 2);
  const sums = series.map((s) => buckets.reduce((sum, b) => sum + (Number(b[s.key]) || 0), 0));
  const summary = `${label}: ${series.map((s, i) => `${sums[i]} ${s.label.toLowerCase()}`).join(', ')} in ${span}`;

  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary },
    svg('title', {}, summary),
    svg('line', { class: 'axis', x1: left, y1: top + plotH, x2: width - 4, y2: top + plotH, stroke: '#e2e6ec' }),
    svg('text', { x: left - 6, y: top + 8, 'text-anchor': 'end' }, String(max)),
    svg('text', { x: left - 6, y: top + plotH, 'text-anchor': 'end' }, '0'));
  buckets.forEach((b, i) => {
    let y = top + plotH;
    const x = left + i * step + (step - barW) / 2;
    for (const s of series) {
      const value = Number(b[s.key]) || 0;
      if (!value) continue;
      const barH = (value / max) * plotH;
      y -= barH;
      chart.append(svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: barH.toFixed(1), rx: Math.min(1.5, barW / 2), fill: s.color },
        svg('title', {}, `${labelOf(keyOf(b))}: ${value} ${s.label.toLowerCase()}`)));
    }
    const labelX = left + i * step + step / 2;
    if (i % labelEvery === labelFirst) {
      chart.append(svg('text', { x: labelX.toFixed(1), y: height - 5, 'text-anchor': 'middle' }, labelOf(keyOf(b))));
    }
  });
  return h('figure', { class: 'chart-figure' }, chart,
    h('figcaption', { class: 'legend' }, series.map((s, i) => h('span', { class: s.legend }, `${s.label} ${sums[i]}`))));
}

export function hourlyBars(buckets, series, label) {
  const days = buckets.length > 24;
  return bars(buckets, series, label, {
    keyOf: (b) => b.hour,
    labelOf: days ? dayHourLabel : hourLabel,
    span: `the last ${buckets.length} hours`,
  });
}

export function dailyBars(buckets, series, label) {
  return bars(buckets, series, label, {
    keyOf: (b) => b.day,
    labelOf: dayLabel,
    span: buckets.length === 1 ? 'one day' : `${buckets.length} days`,
  });
}

function hourLabel(hour) {
  const d = new Date(hour);
  if (Number.isNaN(d.getTime())) return String(hour ?? '');
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function dayHourLabel(hour) {
  const d = new Date(hour);
  if (Number.isNaN(d.getTime())) return String(hour ?? '');
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

// `YYYY-MM-DD` is a calendar day, not an instant: read it in UTC so it never shifts.
function dayLabel(day) {
  const d = new Date(`${day}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return String(day ?? '');
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
}
