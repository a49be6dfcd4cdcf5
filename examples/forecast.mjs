#!/usr/bin/env node
// Time-series forecasting (many-to-one, lecture p.13) on a real series:
// monthly CO2 at Mauna Loa, 1959-1997 (R's `datasets::co2`, extracted by
// tools/extract-co2.R into examples/data/co2.csv; source and licence in
// examples/README.md).
//
// The last 24 months are held out. The series has a trend and a yearly
// cycle; an LSTM reads the month-to-month changes (first differences: the
// level keeps rising past anything seen in training, its changes do not),
// standardised by a Scaler fitted on the training months only. Trained on
// windows of 36 months -> the next month, it forecasts the 24 held-out months
// autoregressively (each predicted change fed back as the next input), and the
// changes are summed back into levels.
//
// Compared with the seasonal-naive forecast (each month = the same month of
// the last observed year), by MAE and MASE (MAE over the in-sample MAE of the
// one-season naive forecast). Writes examples/out/forecast.svg.
//
//   node examples/forecast.mjs                # --budget full
//   node examples/forecast.mjs --budget ci    # the CI smoke run, ~10 s
//
// Exits with code 1 unless the model's MAE is at least 30% (both budgets)
// below seasonal naive (the bar is 30%).
//
// With --series NAME (any series of the benchmark, examples/data/series/): the
// default recipe instead (`Forecaster`: preprocessing from the data, early
// stopping, 3 seeds, ci: 2), on that series' fixed holdout; writes
// examples/out/forecast-NAME.svg with the history, the holdout, the forecast
// and its 80% interval, and prints MASE beside R's baselines.
//   node examples/forecast.mjs --series AirPassengers [--budget ci]
import { parseArgs } from "node:util";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { coverage, Forecaster, init, mase, Scaler, seasonalNaive, Sequential, windows } from "unfold-rnn";
import { readBaselines, readSeries } from "./lib/series.mjs";
import { svgForecast } from "./lib/svg-forecast.mjs";

const BUDGETS = {
  ci: { epochs: 60, hidden: 24, bar: 0.3 },
  full: { epochs: 250, hidden: 32, bar: 0.3 },
};
let cli;
try {
  ({ values: cli } = parseArgs({ options: { budget: { type: "string", default: "full" }, series: { type: "string" } } }));
} catch (err) {
  console.error(`${err.message}; usage: node examples/forecast.mjs [--budget ci|full] [--series NAME]`);
  process.exit(2);
}
if (cli.budget !== "ci" && cli.budget !== "full") {
  console.error(`--budget must be ci or full, got ${cli.budget}`);
  process.exit(2);
}
const budgetName = cli.budget;
const cfg = BUDGETS[budgetName];
const t0 = performance.now();
const here = dirname(fileURLToPath(import.meta.url));
await init();
if (cli.series !== undefined) {
  await benchmarkSeries(cli.series);
  process.exit(0);
}

// ---- data --------------------------------------------------------------------------
const rows = readFileSync(join(here, "data", "co2.csv"), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
const co2 = rows.map((r) => Number(r[2])); // ppm, monthly, Jan 1959 .. Dec 1997
const HOLD = 24, SEASON = 12, LOOKBACK = 36;
const train = co2.slice(0, -HOLD);
const truth = co2.slice(-HOLD);
const diff = (s) => s.slice(1).map((v, i) => v - s[i]);
const dTrain = diff(train); // month-to-month changes of the training part

// ---- model -------------------------------------------------------------------------
const scaler = Scaler.fit(dTrain, { method: "standard" }); // training months only
const data = windows(scaler.transform(dTrain), { lookback: LOOKBACK, horizon: 1 }); // many-to-one: 36 changes -> the next
const model = new Sequential({
  input: { type: "features", size: 1 },
  recurrent: [{ cell: "lstm", hiddenSize: cfg.hidden }],
  output: { size: 1, loss: "mse" },
  mode: "many-to-one",
  seed: 7,
});
model.scaler = scaler;
const hist = model.fit(data, { epochs: cfg.epochs, batchSize: 32, optimizer: { type: "adam", lr: 0.005 }, schedule: { type: "cosine", totalSteps: cfg.epochs * Math.ceil(data.inputs.length / 32), minFactor: 0.05 }, seed: 1 });
const lastLoss = hist.epochs[hist.epochs.length - 1].loss;

// ---- forecast ----------------------------------------------------------------------
const dPred = model.forecast(dTrain, HOLD, { lookback: LOOKBACK }); // the next 24 changes, in ppm
const pred = [];
let level = train[train.length - 1];
for (const d of dPred) pred.push((level += d));
const naive = truth.map((_, h) => train[train.length - SEASON + (h % SEASON)]); // same month, last observed year

const mae = (a) => a.reduce((s, v, i) => s + Math.abs(v - truth[i]), 0) / a.length;
let inSample = 0;
for (let t = SEASON; t < train.length; t++) inSample += Math.abs(train[t] - train[t - SEASON]);
inSample /= train.length - SEASON;
const maeModel = mae(pred), maeNaive = mae(naive);
const gain = 1 - maeModel / maeNaive;
console.log(`CO2, Mauna Loa: ${train.length} training months, ${HOLD} held out; LSTM H=${cfg.hidden}, ${cfg.epochs} epochs, final training loss ${lastLoss.toFixed(4)}`);
console.log(`  seasonal naive  MAE ${maeNaive.toFixed(3)} ppm  MASE ${(maeNaive / inSample).toFixed(3)}`);
console.log(`  LSTM forecast   MAE ${maeModel.toFixed(3)} ppm  MASE ${(maeModel / inSample).toFixed(3)}  (${(100 * gain).toFixed(1)}% below seasonal naive)`);

const svgPath = join(here, "out", "forecast.svg");
mkdirSync(dirname(svgPath), { recursive: true });
writeFileSync(svgPath, svgPlot(co2.slice(-HOLD - 96, -HOLD), truth, pred, naive));
console.log(`plot written to ${relative(process.cwd(), svgPath) || svgPath} (${((performance.now() - t0) / 1000).toFixed(1)} s, budget ${budgetName})`);
model.dispose();
console.log(`RESULT forecast budget=${budgetName} mae=${maeModel.toFixed(4)} naive_mae=${maeNaive.toFixed(4)} mase=${(maeModel / inSample).toFixed(4)} gain=${(100 * gain).toFixed(1)}% required>=${100 * cfg.bar}%`);
if (!(gain >= cfg.bar)) {
  console.error(`FAIL: MAE ${(100 * gain).toFixed(1)}% below seasonal naive; the bar is ${100 * cfg.bar}%`);
  process.exit(1);
}
console.log("PASS");

/** History (grey), truth (black), seasonal naive (orange, dashed), LSTM forecast (blue). */
function svgPlot(history, truth, pred, naive) {
  const W = 720, H = 320, m = { l: 50, r: 150, t: 20, b: 30 };
  const n = history.length + truth.length;
  const all = [...history, ...truth, ...pred, ...naive];
  const lo = Math.floor(Math.min(...all)), hi = Math.ceil(Math.max(...all));
  const x = (i) => m.l + (i / (n - 1)) * (W - m.l - m.r);
  const y = (v) => m.t + (1 - (v - lo) / (hi - lo)) * (H - m.t - m.b);
  const path = (vals, start) => vals.map((v, i) => `${i ? "L" : "M"}${x(start + i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const at = history.length - 1;
  const lines = [
    ["history", "#999", path(history, 0), ""],
    ["truth", "#000", path([history[at], ...truth], at), ""],
    ["seasonal naive", "#e69f00", path([history[at], ...naive], at), ' stroke-dasharray="5 4"'],
    ["LSTM forecast", "#0072b2", path([history[at], ...pred], at), ""],
  ];
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`];
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  for (let v = lo; v <= hi; v += Math.max(1, Math.round((hi - lo) / 6))) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  out.push(`<text x="${m.l}" y="${H - 8}">CO2 at Mauna Loa (ppm), last ${history.length / 12} years and the ${truth.length} held-out months</text>`);
  lines.forEach(([name, color, d, extra], i) => {
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${extra}/>`);
    out.push(`<line x1="${W - m.r + 12}" x2="${W - m.r + 36}" y1="${m.t + 12 + i * 18}" y2="${m.t + 12 + i * 18}" stroke="${color}" stroke-width="2"${extra}/><text x="${W - m.r + 42}" y="${m.t + 16 + i * 18}">${name}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

/** The default recipe on one benchmark series, plotted. */
async function benchmarkSeries(name) {
  const all = readSeries();
  const s = all.find((x) => x.name === name);
  if (!s) {
    console.error(`no series ${name}; the benchmark has ${all.map((x) => x.name).join(", ")}`);
    process.exit(2);
  }
  const train = s.values.slice(0, -s.holdout), test = s.values.slice(-s.holdout);
  const f = Forecaster.fit(train, { period: s.period, horizon: s.holdout, seeds: budgetName === "ci" ? [1, 2] : [1, 2, 3], name: s.name });
  const r = f.forecast();
  f.dispose();
  const b = readBaselines().get(s.name);
  const ours = mase(test, r.mean, train, s.period), cover = coverage(test, r.lower, r.upper);
  console.log(`${s.name} (${s.source}; ${s.licence}): ${train.length} training steps, ${s.holdout} held out, period ${s.period}`);
  console.log(`  MASE: recipe ${ours.toFixed(3)}  seasonal naive ${b.snaive.mase.toFixed(3)}  ets ${b.ets.mase.toFixed(3)}  auto.arima ${b["auto.arima"].mase.toFixed(3)}  thetaf ${b.thetaf.mase.toFixed(3)};  80% interval covers ${(100 * cover).toFixed(0)}% of the holdout`);
  const keep = Math.min(train.length, Math.max(4 * s.holdout, 3 * s.period));
  const svgPath = join(here, "out", `forecast-${s.name}.svg`);
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, svgForecast({
    title: `${s.name}: the last ${keep} training steps, ${s.holdout} held out; MASE recipe ${ours.toFixed(2)}, seasonal naive ${b.snaive.mase.toFixed(2)}, ets ${b.ets.mase.toFixed(2)}`,
    history: train.slice(-keep), truth: test, forecast: Array.from(r.mean), lower: Array.from(r.lower), upper: Array.from(r.upper),
    naive: Array.from(seasonalNaive(train, s.holdout, s.period)), naiveLabel: s.period > 1 ? "seasonal naive" : "naive (last value)",
  }));
  console.log(`plot written to ${relative(process.cwd(), svgPath) || svgPath} (${((performance.now() - t0) / 1000).toFixed(1)} s, budget ${budgetName})`);
  console.log(`RESULT forecast-series name=${s.name} budget=${budgetName} mase=${ours.toFixed(4)} snaive_mase=${b.snaive.mase.toFixed(4)} cover80=${cover.toFixed(3)}`);
}
