// Reads the forecasting benchmark of examples/data/series/ (written by
// tools/extract-series.R and tools/baselines-series.R): the series with their
// period and holdout, and R's baselines on exactly those splits.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const SERIES_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "data", "series");

/** Rows of a CSV file as objects keyed by the header (fields may be "quoted", with "" inside). */
export function readCsv(path) {
  const lines = readFileSync(path, "utf8").trim().split(/\r?\n/);
  const split = (l) => {
    const out = [];
    let cur = "", q = false;
    for (let i = 0; i < l.length; i++) {
      const c = l[i];
      if (q) {
        if (c === '"' && l[i + 1] === '"') { cur += '"'; i++; }
        else if (c === '"') q = false;
        else cur += c;
      } else if (c === '"') q = true;
      else if (c === ",") { out.push(cur); cur = ""; }
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  const head = split(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [head[i], v])));
}

/** Every series: { name, period, holdout, kind, source, licence, times, values }. */
export function readSeries(dir = SERIES_DIR) {
  return readCsv(join(dir, "index.csv")).map((r) => {
    const rows = readCsv(join(dir, `${r.name}.csv`));
    return {
      name: r.name, period: Number(r.period), holdout: Number(r.holdout), kind: r.kind, source: r.source, licence: r.licence, package: r.package,
      times: rows.map((x) => Number(x.time)), values: rows.map((x) => Number(x.value)),
    };
  });
}

/** R's baselines: Map name -> { method -> { model, mae, mase, smape, cover80 } }. */
export function readBaselines(dir = SERIES_DIR) {
  const m = new Map();
  for (const r of readCsv(join(dir, "baselines.csv"))) {
    if (!m.has(r.series)) m.set(r.series, {});
    m.get(r.series)[r.method] = { model: r.model, mae: Number(r.mae), mase: Number(r.mase), smape: Number(r.smape), cover80: Number(r.cover80) };
  }
  return m;
}

/** R's forecasts: Map "name/method" -> { mean, lo80, hi80 } (each [h]). */
export function readBaselineForecasts(dir = SERIES_DIR) {
  const m = new Map();
  for (const r of readCsv(join(dir, "baseline-forecasts.csv"))) {
    const k = `${r.series}/${r.method}`;
    if (!m.has(k)) m.set(k, { mean: [], lo80: [], hi80: [] });
    const e = m.get(k);
    e.mean.push(Number(r.mean)); e.lo80.push(Number(r.lo80)); e.hi80.push(Number(r.hi80));
  }
  return m;
}
