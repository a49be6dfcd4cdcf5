/**
 * The training report: the loss curve as a small, hand-built SVG — the
 * training loss of every update (faint) and smoothed, the validation loss at
 * each checkpoint, and the unigram baseline as a dashed line.
 */

/** The losses the CLI records while training (kept in the model file's meta). */
export interface LossCurve {
  /** Training loss per update, one value per `trainEvery` updates (the mean over them), from update 1. */
  train: number[];
  /** Updates per entry of `train` (doubles when the record is compacted). */
  trainEvery: number;
  /** [update, validation loss] at checkpoints. */
  val: [number, number][];
}

export function newCurve(): LossCurve {
  return { train: [], trainEvery: 1, val: [] };
}

/** Keep at most this many train entries: pairs are averaged and the stride doubles. */
const MAX_TRAIN_POINTS = 20000;

/** Buffer of the updates not yet folded into a strided entry. */
export class CurveRecorder {
  private pending: number[] = [];
  constructor(readonly curve: LossCurve) {}

  push(loss: number): void {
    this.pending.push(loss);
    if (this.pending.length >= this.curve.trainEvery) {
      this.curve.train.push(round4(mean(this.pending)));
      this.pending = [];
      if (this.curve.train.length > MAX_TRAIN_POINTS) {
        const t = this.curve.train;
        const out: number[] = [];
        for (let i = 0; i + 1 < t.length; i += 2) out.push(round4((t[i] + t[i + 1]) / 2));
        this.curve.train = out;
        this.curve.trainEvery *= 2;
      }
    }
  }
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;

/** Tick values: about `n` round numbers covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Exponential moving average with bias correction (TensorBoard-style smoothing). */
export function smooth(y: number[], weight: number): number[] {
  const out: number[] = [];
  let m = 0;
  let w = 0;
  for (const v of y) {
    m = weight * m + (1 - weight) * v;
    w = weight * w + (1 - weight);
    out.push(m / w);
  }
  return out;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const f1 = (x: number) => (Math.round(x * 10) / 10).toString();

/**
 * Render the curve as SVG text.
 * @param title shown above the plot (e.g. the architecture and corpus)
 * @param baseline the unigram loss, drawn dashed (omitted if not finite)
 */
export function lossCurveSvg(curve: LossCurve, opts: { title: string; baseline?: number }): string {
  const W = 720;
  const H = 420;
  const m = { l: 64, r: 24, t: 44, b: 56 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const every = curve.trainEvery;
  const steps = curve.train.map((_, i) => (i + 1) * every);
  const sm = smooth(curve.train, curve.train.length > 50 ? 0.95 : curve.train.length > 10 ? 0.8 : 0);
  const maxStep = Math.max(1, steps.at(-1) ?? 0, ...curve.val.map((v) => v[0]));
  const ys = [...sm, ...curve.val.map((v) => v[1]), ...(Number.isFinite(opts.baseline) ? [opts.baseline!] : [])].filter(Number.isFinite);
  let yLo = ys.length ? Math.min(...ys, ...curve.train) : 0;
  let yHi = ys.length ? Math.max(...ys) : 1;
  if (yHi - yLo < 1e-6) {
    yLo -= 0.5;
    yHi += 0.5;
  }
  const pad = (yHi - yLo) * 0.06;
  yLo = Math.max(0, yLo - pad);
  yHi += pad;
  const yt = niceTicks(yLo, yHi, 6);
  yLo = Math.min(yLo, yt[0]);
  yHi = Math.max(yHi, yt.at(-1)!);
  const xt = niceTicks(0, maxStep, 6).filter((v) => v <= maxStep);
  const X = (s: number) => m.l + (s / maxStep) * pw;
  const Y = (v: number) => m.t + (1 - (v - yLo) / (yHi - yLo)) * ph;
  const line = (pts: [number, number][]) => pts.map(([s, v], i) => `${i ? "L" : "M"}${f1(X(s))},${f1(Y(v))}`).join("");

  // At most ~1500 points per path: average buckets of the raw series.
  const thin = (xs: number[], vs: number[]): [number, number][] => {
    const k = Math.max(1, Math.ceil(vs.length / 1500));
    const out: [number, number][] = [];
    for (let i = 0; i < vs.length; i += k) {
      const n = Math.min(k, vs.length - i);
      let s = 0;
      for (let j = 0; j < n; j++) s += vs[i + j];
      out.push([xs[i + n - 1], s / n]);
    }
    return out;
  };

  const p: string[] = [];
  p.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`);
  p.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  p.push(`<text x="${m.l}" y="22" font-size="14" font-weight="600" fill="#222">${esc(opts.title)}</text>`);
  p.push(`<defs><clipPath id="plot"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  // Grid and ticks.
  for (const v of yt) {
    p.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${f1(Y(v))}" y2="${f1(Y(v))}" stroke="#eee"/>`);
    p.push(`<text x="${m.l - 8}" y="${f1(Y(v) + 4)}" text-anchor="end" fill="#555">${v}</text>`);
  }
  for (const s of xt) {
    p.push(`<line x1="${f1(X(s))}" x2="${f1(X(s))}" y1="${m.t}" y2="${m.t + ph}" stroke="#f3f3f3"/>`);
    p.push(`<text x="${f1(X(s))}" y="${m.t + ph + 18}" text-anchor="middle" fill="#555">${s}</text>`);
  }
  p.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  // Axis labels.
  p.push(`<text x="${m.l + pw / 2}" y="${H - 14}" text-anchor="middle" fill="#333">step (parameter update)</text>`);
  p.push(`<text transform="translate(18 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" fill="#333">loss (cross-entropy, nats per character)</text>`);
  // Series.
  p.push(`<g clip-path="url(#plot)" fill="none" stroke-linejoin="round">`);
  if (Number.isFinite(opts.baseline)) {
    p.push(`<path d="M${m.l},${f1(Y(opts.baseline!))}H${m.l + pw}" stroke="#b33" stroke-dasharray="6 4"/>`);
  }
  if (curve.train.length) {
    p.push(`<path d="${line(thin(steps, curve.train))}" stroke="#9ec5ee" stroke-width="1"/>`);
    p.push(`<path d="${line(thin(steps, sm))}" stroke="#1f6fbf" stroke-width="2"/>`);
  }
  if (curve.val.length) {
    p.push(`<path d="${line(curve.val)}" stroke="#e07b00" stroke-width="1.5"/>`);
    for (const [s, v] of curve.val) p.push(`<circle cx="${f1(X(s))}" cy="${f1(Y(v))}" r="3.5" fill="#e07b00" stroke="#fff"/>`);
  }
  p.push(`</g>`);
  // Legend.
  const lx = m.l + pw - 210;
  let ly = m.t + 16;
  const legend = (draw: string, label: string) => {
    p.push(draw, `<text x="${lx + 30}" y="${ly + 4}" fill="#333">${esc(label)}</text>`);
    ly += 18;
  };
  p.push(`<rect x="${lx - 8}" y="${m.t + 4}" width="206" height="${18 * (1 + (curve.val.length ? 1 : 0) + (Number.isFinite(opts.baseline) ? 1 : 0)) + 6}" fill="#fff" fill-opacity="0.85" stroke="#ddd"/>`);
  legend(`<path d="M${lx},${ly}h22" stroke="#1f6fbf" stroke-width="2"/>`, "train (smoothed; raw faint)");
  if (curve.val.length) legend(`<path d="M${lx},${ly}h22" stroke="#e07b00" stroke-width="1.5"/><circle cx="${lx + 11}" cy="${ly}" r="3.5" fill="#e07b00"/>`, `validation (last ${curve.val.at(-1)![1].toFixed(3)})`);
  if (Number.isFinite(opts.baseline)) legend(`<path d="M${lx},${ly}h22" stroke="#b33" stroke-dasharray="6 4"/>`, `unigram baseline (${opts.baseline!.toFixed(3)})`);
  p.push(`</svg>`);
  return p.join("\n") + "\n";
}
