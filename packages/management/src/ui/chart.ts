/** Line charts drawn as SVG (no chart library): a few series of timestamped samples, newest on the right. */

const NS = 'http://www.w3.org/2000/svg';

export interface Series {
  label: string;
  color: string;
  points: Array<{ t: number; v: number }>;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Draw `series` into a new SVG spanning `spanMs` up to `now`, with the largest value as the top gridline label. */
export function lineChart(series: Series[], spanMs: number, now: number, unit: string): SVGSVGElement {
  const W = 600;
  const H = 160;
  const L = 50;
  const B = 18;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
  let max = 0;
  for (const s of series) for (const p of s.points) max = Math.max(max, p.v);
  const top = max <= 0 ? 1 : niceCeil(max);
  const x = (t: number): number => L + ((t - (now - spanMs)) / spanMs) * (W - L - 4);
  const y = (v: number): number => 4 + (1 - v / top) * (H - B - 8);
  for (const frac of [0, 0.5, 1]) {
    const yy = y(top * frac);
    root.append(svg('line', { x1: L, x2: W - 4, y1: yy, y2: yy, stroke: '#d8dde2', 'stroke-width': 1 }));
    const label = svg('text', { x: L - 4, y: yy + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#66707a' });
    label.textContent = `${fmt(top * frac)}${unit}`;
    root.append(label);
  }
  for (const [i, text] of [`-${Math.round(spanMs / 60000)} min`, 'now'].entries()) {
    const t = svg('text', { x: i === 0 ? L : W - 4, y: H - 3, 'text-anchor': i === 0 ? 'start' : 'end', 'font-size': 11, fill: '#66707a' });
    t.textContent = text;
    root.append(t);
  }
  for (const s of series) {
    const pts = s.points.filter((p) => p.t >= now - spanMs).sort((a, b) => a.t - b.t);
    if (pts.length === 0) continue;
    const d = pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { points: d, fill: 'none', stroke: s.color, 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' }));
  }
  return root;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v % 1 === 0 ? String(v) : v.toFixed(1);
}

/** Counter samples (newest first, as the API lists them) as per-second rates between consecutive samples. */
export function ratesOf(samples: Array<{ sample: number; timestamp: number }> | undefined): Array<{ t: number; v: number }> {
  if (samples === undefined) return [];
  const out: Array<{ t: number; v: number }> = [];
  for (let i = 0; i + 1 < samples.length; i++) {
    const a = samples[i]!;
    const b = samples[i + 1]!;
    const dt = (a.timestamp - b.timestamp) / 1000;
    if (dt > 0) out.push({ t: a.timestamp, v: Math.max(0, (a.sample - b.sample) / dt) });
  }
  return out;
}

/** Gauge samples (newest first) as points. */
export function pointsOf(samples: Array<{ sample: number; timestamp: number }> | undefined): Array<{ t: number; v: number }> {
  return (samples ?? []).map((s) => ({ t: s.timestamp, v: s.sample }));
}
