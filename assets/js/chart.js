// Stacked hourly bars as inline SVG (no chart library, nothing loaded from outside).
import { h, svg } from './dom.js';

export function hourlyBars(buckets, series, label) {
  const width = 480; const height = 150; const left = 28; const bottom = 20; const top = 8;
  const plotW = width - left - 4; const plotH = height - bottom - top;
  const totals = buckets.map((b) => series.reduce((sum, s) => sum + (Number(b[s.key]) || 0), 0));
  const max = Math.max(1, ...totals);
  const step = plotW / Math.max(1, buckets.length);
  const barW = Math.max(2, step * 0.7);
  const sums = series.map((s) => buckets.reduce((sum, b) => sum + (Number(b[s.key]) || 0), 0));
  const summary = `${label}: ${series.map((s, i) => `${sums[i]} ${s.label.toLowerCase()}`).join(', ')} in the last ${buckets.length} hours`;

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
      chart.append(svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: barH.toFixed(1), rx: 1.5, fill: s.color },
        svg('title', {}, `${hourLabel(b.hour)}: ${value} ${s.label.toLowerCase()}`)));
    }
    if (i % 6 === 0) chart.append(svg('text', { x: (left + i * step).toFixed(1), y: height - 5 }, hourLabel(b.hour)));
  });
  return h('figure', { class: 'chart-figure' }, chart,
    h('figcaption', { class: 'legend' }, series.map((s, i) => h('span', { class: s.legend }, `${s.label} ${sums[i]}`))));
}

function hourLabel(hour) {
  const d = new Date(hour);
  if (Number.isNaN(d.getTime())) return String(hour ?? '');
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}
