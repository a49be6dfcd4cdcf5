// A hand-built SVG of a forecast: history (grey), the held-out truth (black),
// seasonal naive (orange, dashed), the forecast (blue) and its interval (a
// light blue band). No dependencies.

/** @param o { title, history[], truth[], forecast[], lower[], upper[], naive[], naiveLabel? } */
export function svgForecast(o) {
  const W = 760, H = 340, m = { l: 60, r: 150, t: 16, b: 40 };
  const n = o.history.length + o.truth.length;
  const all = [...o.history, ...o.truth, ...o.forecast, ...o.lower, ...o.upper, ...o.naive];
  let lo = Math.min(...all), hi = Math.max(...all);
  const pad = (hi - lo) * 0.05 || 1;
  lo -= pad; hi += pad;
  const x = (i) => m.l + (i / (n - 1)) * (W - m.l - m.r);
  const y = (v) => m.t + (1 - (v - lo) / (hi - lo)) * (H - m.t - m.b);
  const at = o.history.length - 1, last = o.history[at];
  const path = (vals, start) => vals.map((v, i) => `${i ? "L" : "M"}${x(start + i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const band = [...o.upper.map((v, i) => [at + 1 + i, v]), ...o.lower.map((v, i) => [at + 1 + i, v]).reverse()]
    .map(([i, v], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ") + " Z";
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`];
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  const step = niceStep((hi - lo) / 6);
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${+v.toPrecision(6)}</text>`);
  }
  out.push(`<line x1="${x(at + 0.5).toFixed(1)}" x2="${x(at + 0.5).toFixed(1)}" y1="${m.t}" y2="${H - m.b}" stroke="#ccc" stroke-dasharray="2 3"/>`);
  out.push(`<path d="${band}" fill="#0072b2" fill-opacity="0.18" stroke="none"/>`);
  const lines = [
    ["history", "#999", path(o.history, 0), ""],
    ["held out (truth)", "#000", path([last, ...o.truth], at), ""],
    [o.naiveLabel ?? "seasonal naive", "#e69f00", path([last, ...o.naive], at), ' stroke-dasharray="5 4"'],
    ["forecast", "#0072b2", path([last, ...o.forecast], at), ""],
  ];
  lines.forEach(([name, color, d, extra], i) => {
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${extra}/>`);
    out.push(`<line x1="${W - m.r + 12}" x2="${W - m.r + 36}" y1="${m.t + 12 + i * 18}" y2="${m.t + 12 + i * 18}" stroke="${color}" stroke-width="2"${extra}/><text x="${W - m.r + 42}" y="${m.t + 16 + i * 18}">${name}</text>`);
  });
  out.push(`<rect x="${W - m.r + 12}" y="${m.t + 12 + 4 * 18 - 6}" width="24" height="12" fill="#0072b2" fill-opacity="0.18"/><text x="${W - m.r + 42}" y="${m.t + 16 + 4 * 18}">80% interval</text>`);
  out.push(`<text x="${m.l}" y="${H - 12}">${escape(o.title)}</text>`);
  out.push("</svg>");
  return out.join("\n");
}

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? 10 * p;
}

function escape(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
