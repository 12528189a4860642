// A small line chart on <canvas>: several series, axes with round ticks, a legend, an optional
// reference line and a hover read-out. Long series are reduced to min/max per pixel column,
// so 10,000 points draw as fast as 500 and still show every spike.
"use strict";

const PALETTE = ["#2a7de1", "#e1642a", "#2f9e5b", "#9b51e0", "#d64545", "#8a6d00",
                 "#0097a7", "#c2185b"];

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
  // The 1-2-5 step that gives the tick count closest to the one asked for.
  const mag = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
  let step = mag;
  for (const m of [1, 2, 5, 10]) {
    if (Math.abs((hi - lo) / (m * mag) - count) < Math.abs((hi - lo) / step - count)) step = m * mag;
  }
  const ticks = [];
  // Integer multiples, not repeated addition: no 0.30000000000000004 labels.
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) {
    ticks.push(Number((k * step).toPrecision(12)));
  }
  return ticks;
}

function formatTick(v) {
  const a = Math.abs(v);
  if (a >= 10000) return (v / 1000).toFixed(0) + "k";
  if (a >= 100 || v === 0) return v.toFixed(0);
  return String(parseFloat(v.toPrecision(3)));
}

// Min and max of each pixel column: keeps the envelope of a long noisy curve.
function decimate(xs, ys, x0, x1, columns) {
  if (xs.length <= 2 * columns) return [xs, ys];
  const ox = [], oy = [];
  let col = -1, lo = null, hi = null, xlo = 0, xhi = 0;
  const flush = () => {
    if (lo === null) return;
    if (xlo <= xhi) { ox.push(xlo, xhi); oy.push(lo, hi); } else { ox.push(xhi, xlo); oy.push(hi, lo); }
  };
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y === null || !isFinite(y)) { flush(); lo = null; ox.push(xs[i]); oy.push(null); continue; }
    const c = Math.floor(((xs[i] - x0) / (x1 - x0 || 1)) * columns);
    if (c !== col) { flush(); col = c; lo = hi = null; }
    if (lo === null || y < lo) { lo = y; xlo = xs[i]; }
    if (hi === null || y > hi) { hi = y; xhi = xs[i]; }
  }
  flush();
  return [ox, oy];
}

// series: [{label, xs: [...], ys: [...] (null = gap)}]; opts: {title, yMin, yMax, hline}
function drawChart(canvas, series, opts = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
  if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { left: 46, right: 10, top: 34, bottom: 24 };
  const pw = w - pad.left - pad.right, ph = h - pad.top - pad.bottom;

  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, total = 0;
  for (const s of series) {
    total += s.xs.length;
    for (let i = 0; i < s.xs.length; i++) {
      const y = s.ys[i];
      if (y === null || !isFinite(y)) continue;
      x0 = Math.min(x0, s.xs[i]); x1 = Math.max(x1, s.xs[i]);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  canvas.dataset.points = String(total);  // read by the tests and handy when debugging
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillStyle = "#1d2330";
  ctx.fillText(opts.title || "", pad.left, 14);
  if (!isFinite(x0)) {
    ctx.fillStyle = "#6b7383";
    ctx.fillText("no data yet", pad.left + pw / 2 - 30, pad.top + ph / 2);
    canvas._chart = null;
    return;
  }
  if (opts.yMin !== undefined) y0 = Math.min(y0, opts.yMin);
  if (opts.yMax !== undefined) y1 = Math.max(y1, opts.yMax);
  if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
  const margin = 0.05 * (y1 - y0);  // keep lines off the frame
  y0 -= margin; y1 += margin;
  if (x1 === x0) { x1 = x0 + 1; }
  const sx = (x) => pad.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y) => pad.top + (1 - (y - y0) / (y1 - y0)) * ph;

  ctx.strokeStyle = "#eceff3"; ctx.fillStyle = "#6b7383"; ctx.lineWidth = 1;
  for (const t of niceTicks(y0, y1, 5)) {
    ctx.beginPath(); ctx.moveTo(pad.left, sy(t)); ctx.lineTo(pad.left + pw, sy(t)); ctx.stroke();
    ctx.fillText(formatTick(t), 4, sy(t) + 4);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    const label = formatTick(t), tw = ctx.measureText(label).width;
    ctx.fillText(label, Math.min(sx(t) - tw / 2, w - tw - 2), h - 6);  // the last stays inside
  }
  ctx.strokeStyle = "#9aa3b2";
  ctx.strokeRect(pad.left, pad.top, pw, ph);
  if (opts.hline !== undefined && opts.hline >= y0 && opts.hline <= y1) {
    ctx.setLineDash([4, 4]);
    ctx.beginPath(); ctx.moveTo(pad.left, sy(opts.hline)); ctx.lineTo(pad.left + pw, sy(opts.hline));
    ctx.stroke(); ctx.setLineDash([]);
  }

  let lx = pad.left;
  series.forEach((s, k) => {
    const color = s.color || PALETTE[k % PALETTE.length];
    const [xs, ys] = decimate(s.xs, s.ys, x0, x1, pw);
    ctx.strokeStyle = color; ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      if (ys[i] === null || !isFinite(ys[i])) { pen = false; continue; }
      if (pen) ctx.lineTo(sx(xs[i]), sy(ys[i])); else ctx.moveTo(sx(xs[i]), sy(ys[i]));
      pen = true;
    }
    if (xs.length === 1) ctx.arc(sx(xs[0]), sy(ys[0]), 2, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.fillStyle = color; ctx.fillRect(lx, 21, 10, 3);
    ctx.fillStyle = "#1d2330"; ctx.fillText(s.label, lx + 13, 27);
    lx += 20 + ctx.measureText(s.label).width;
  });
  canvas._chart = { series, sx, x0, x1, pad, pw };
  if (!canvas._hover) attachHover(canvas);
}

// The values of every series at the step nearest the mouse, in the canvas's title attribute.
function attachHover(canvas) {
  canvas._hover = true;
  canvas.addEventListener("mousemove", (ev) => {
    const c = canvas._chart;
    if (!c) return;
    const rect = canvas.getBoundingClientRect();
    const x = c.x0 + ((ev.clientX - rect.left - c.pad.left) / c.pw) * (c.x1 - c.x0);
    const parts = c.series.map((s) => {
      let best = -1, bestDist = Infinity;
      for (let i = 0; i < s.xs.length; i++) {
        const d = Math.abs(s.xs[i] - x);
        if (d < bestDist) { bestDist = d; best = i; }
      }
      if (best < 0 || s.ys[best] === null) return null;
      return `${s.label}=${Number(s.ys[best]).toPrecision(4)} @ ${s.xs[best]}`;
    }).filter(Boolean);
    canvas.title = parts.join("\n");
  });
}

window.GanCharts = { drawChart, PALETTE };
