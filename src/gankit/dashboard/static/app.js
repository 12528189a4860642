// The dashboard page: polls the JSON API once a second and redraws what changed, so a run
// that is training updates without reloading the page. Only incremental stats are fetched
// after the first load (?since=<last step>).
"use strict";

const POLL_MS = 1000;
const SKIP_KEYS = new Set(["step", "epoch", "sec_per_step"]);
const D_KEYS = ["D(x)", "D(G(z))"];

const state = {
  runs: [],
  selected: null,    // run id
  detail: null,      // /api/runs/<id>
  series: {},        // "stats:<id>" / "metrics:<id>" -> {generation, records, last, drawn}
  compare: new Set(),
  pictures: {},      // kind -> {steps, index, follow}
  explorer: null,    // /api/runs/<id>/explore for the selected run
  explorerFor: null,
  picked: [],        // tiles clicked in the explorer grid
};
window.gankitState = state;  // for the tests and for poking at in the console
window.gankitTimings = {};  // ms since navigation started, for benchmarks/dashboard_load.py

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const apiRun = (id) => `/api/runs/${enc(id)}`;

async function getJSON(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// --- series: incremental reads of stats.jsonl / metrics.jsonl -------------------------------
async function syncSeries(kind, id) {
  const key = `${kind}:${id}`;
  let s = state.series[key];
  if (!s) s = state.series[key] = { generation: null, records: [], last: -1, version: 0 };
  const r = await getJSON(`${apiRun(id)}/${kind}?since=${s.last}`);
  if (s.generation !== null && r.generation !== s.generation) {
    // The file was rewritten (a resume replays from its checkpoint): start again.
    Object.assign(s, { generation: null, records: [], last: -1 });
    s.version++;
    return syncSeries(kind, id);
  }
  s.generation = r.generation;
  const fresh = r.records.filter((rec) => typeof rec.step === "number" && rec.step > s.last);
  if (fresh.length) {
    s.records.push(...fresh);
    s.last = fresh[fresh.length - 1].step;
    s.version++;
  }
  return s;
}

function column(records, key) {
  const xs = [], ys = [];
  for (const r of records) {
    if (!(key in r)) continue;
    xs.push(r.step);
    ys.push(typeof r[key] === "number" ? r[key] : null);
  }
  return { xs, ys };
}

function keysOf(records) {
  const keys = new Set();
  for (const r of records) for (const k in r) if (!SKIP_KEYS.has(k) && typeof r[k] === "number") keys.add(k);
  return [...keys].sort();
}

// --- the run list ---------------------------------------------------------------------------
function renderRunList() {
  const list = $("run-list");
  $("no-runs").hidden = state.runs.length > 0;
  const seen = new Set();
  for (const run of state.runs) {
    seen.add(run.id);
    let li = list.querySelector(`li[data-run-id="${CSS.escape(run.id)}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.runId = run.id;
      li.innerHTML = `<input type="checkbox" class="compare-box" title="compare">
        <div><div class="name"></div><div class="muted small info"></div></div>`;
      li.addEventListener("click", (ev) => { if (!ev.target.matches("input")) selectRun(run.id); });
      li.querySelector("input").addEventListener("change", (ev) => {
        if (ev.target.checked) state.compare.add(run.id); else state.compare.delete(run.id);
        updateHash(); renderCompare();
      });
      list.appendChild(li);
    }
    li.querySelector("input").checked = state.compare.has(run.id);
    li.querySelector(".name").textContent = run.id;
    li.querySelector(".info").innerHTML = "";
    const badge = document.createElement("span");
    badge.className = `badge ${run.status}`;
    badge.textContent = run.status;
    badge.title = run.reason;
    li.querySelector(".info").append(badge,
      ` ${run.preset} · step ${run.step}${run.target_step ? " / " + run.target_step : ""}`);
    li.dataset.status = run.status;
    li.classList.toggle("selected", run.id === state.selected);
  }
  for (const li of [...list.children]) if (!seen.has(li.dataset.runId)) li.remove();
}

// --- one run --------------------------------------------------------------------------------
function selectRun(id) {
  if (state.selected === id) return;
  state.selected = id;
  state.detail = null;
  state.pictures = {};
  state.picked = [];
  $("pictures").innerHTML = "";
  $("metric-charts").innerHTML = "";
  $("stat-charts").innerHTML = "";
  $("explore-image").removeAttribute("src");
  $("interp-image").removeAttribute("src");
  $("recon-image").removeAttribute("src");
  $("recon-box").hidden = true;
  $("explore-error").textContent = "";
  updateHash();
  renderRunList();
  tick();
}

function renderRun() {
  const d = state.detail;
  $("run").hidden = !d;
  $("pick-run").hidden = !!d;
  if (!d) return;
  $("run-title").textContent = d.id;
  const badge = $("run-status");
  badge.className = `badge ${d.status}`;
  badge.textContent = d.status;
  $("run-meta").textContent = `${d.preset} · variant ${d.variant} · data ${d.dataset} · ` +
    `step ${d.step}${d.target_step ? " of " + d.target_step : ""} · ${d.reason}`;
  const cfg = JSON.stringify(d.config, null, 2);
  if ($("config").textContent !== cfg) $("config").textContent = cfg;
  renderFindings(d.findings);
  for (const kind of ["samples", "frames"]) renderPictures(kind, d[kind]);
}

function renderCharts() {
  const stats = state.series[`stats:${state.selected}`];
  const metrics = state.series[`metrics:${state.selected}`];
  const drawnKey = `${stats ? stats.version : -1}/${metrics ? metrics.version : -1}`;
  if (renderCharts.drawn === `${state.selected}/${drawnKey}`) return;
  renderCharts.drawn = `${state.selected}/${drawnKey}`;
  const recs = stats ? stats.records : [];
  const keys = keysOf(recs);
  const lossKeys = keys.filter((k) => k.startsWith("loss/"));
  GanCharts.drawChart($("chart-losses"),
    lossKeys.map((k) => ({ label: k.slice(5), ...column(recs, k) })), { title: "losses" });
  GanCharts.drawChart($("chart-d"),
    D_KEYS.filter((k) => keys.includes(k)).map((k) => ({ label: k, ...column(recs, k) })),
    { title: "discriminator output (0.5 = equilibrium)", yMin: 0, yMax: 1, hline: 0.5 });
  const other = keys.filter((k) => !k.startsWith("loss/") && !D_KEYS.includes(k));
  drawKeyCharts($("stat-charts"), "stat", recs, other, "");
  drawKeyCharts($("metric-charts"), "metric", metrics ? metrics.records : [],
    keysOf(metrics ? metrics.records : []), "metric: ");
  $("stat-box").hidden = !other.length;
  if (window.gankitTimings.firstData === undefined && recs.length) {
    window.gankitTimings.firstData = performance.now();
  }
}

// One small chart per key (their scales differ), created the first time the key shows up.
function drawKeyCharts(box, prefix, records, keys, title) {
  for (const k of keys) {
    const id = `chart-${prefix}-${k.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
    let canvas = document.getElementById(id);
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.id = id;
      canvas.className = "chart small";
      box.appendChild(canvas);
    }
    GanCharts.drawChart(canvas, [{ label: k, ...column(records, k) }], { title: title + k });
  }
}

function pictureUrl(kind, step) {
  return `${apiRun(state.selected)}/picture?kind=${kind}&step=${step}`;
}

function renderPictures(kind, steps) {
  if (!steps || !steps.length) return;
  let p = state.pictures[kind];
  let box = $(`picture-${kind}`);
  if (!box) {
    box = document.createElement("div");
    box.id = `picture-${kind}`; box.className = `picture ${kind}`;
    box.innerHTML = `<h3>${kind === "samples" ? "Samples from the fixed noise" : "Data, G(z) and D's contour"}</h3>
      <label>step <input type="range" id="picture-${kind}-slider" min="0" step="1">
      <span id="picture-${kind}-step"></span></label>
      <img id="picture-${kind}-img" alt="${kind} at the chosen step">`;
    $("pictures").appendChild(box);
    p = state.pictures[kind] = { steps: [], index: 0, follow: true };
    $(`picture-${kind}-slider`).addEventListener("input", (ev) => {
      p.index = Number(ev.target.value);
      p.follow = p.index === p.steps.length - 1;  // at the right end: keep following training
      showPicture(kind);
    });
  }
  const changed = steps.length !== p.steps.length || steps[steps.length - 1] !== p.steps[p.steps.length - 1];
  if (!changed) return;
  p.steps = steps;
  if (p.follow || p.index >= steps.length) p.index = steps.length - 1;
  const slider = $(`picture-${kind}-slider`);
  slider.max = String(steps.length - 1);
  slider.value = String(p.index);
  showPicture(kind);
}

function showPicture(kind) {
  const p = state.pictures[kind];
  const step = p.steps[p.index];
  $(`picture-${kind}-step`).textContent = `${step} (${p.index + 1} of ${p.steps.length})`;
  const url = pictureUrl(kind, step);
  const img = $(`picture-${kind}-img`);
  if (img.getAttribute("src") !== url) img.src = url;
}

function describeEvidence(evidence) {
  if (evidence === null || evidence === undefined) return "";
  if (typeof evidence !== "object") return String(evidence);
  return Object.entries(evidence)
    .map(([k, v]) => `${k}=${typeof v === "number" ? Number(v.toPrecision(4)) : v}`).join(", ");
}

function renderFindings(findings) {
  $("findings-box").hidden = !findings.length;
  const ul = $("findings");
  ul.innerHTML = "";
  for (const f of findings) {
    const li = document.createElement("li");
    const kind = document.createElement("span");
    kind.className = "finding-kind";
    kind.textContent = `${f.kind ?? "finding"} at step ${f.step ?? "?"}: `;
    const remedy = document.createElement("div");
    remedy.className = "remedy";
    remedy.textContent = f.remedy ? `Remedy: ${f.remedy}` : "";
    li.append(kind, describeEvidence(f.evidence), remedy);
    ul.appendChild(li);
  }
}

// --- comparing runs -------------------------------------------------------------------------
function renderCompare() {
  const ids = [...state.compare].filter((id) => state.runs.some((r) => r.id === id));
  $("compare").hidden = ids.length < 2;
  if (ids.length < 2) return;
  const select = $("compare-key");
  const keys = new Set();
  for (const id of ids) {
    for (const k of keysOf(state.series[`stats:${id}`]?.records || [])) keys.add(k);
    for (const k of keysOf(state.series[`metrics:${id}`]?.records || [])) keys.add(`metric:${k}`);
  }
  const options = [...keys].sort();
  if ([...select.options].map((o) => o.value).join() !== options.join()) {
    const keep = select.value;
    select.innerHTML = "";
    for (const k of options) select.add(new Option(k, k));
    if (options.includes(keep)) select.value = keep;
    else if (options.includes("loss/g_adv")) select.value = "loss/g_adv";
  }
  const key = select.value;
  if (!key) return;
  const [kind, name] = key.startsWith("metric:") ? ["metrics", key.slice(7)] : ["stats", key];
  GanCharts.drawChart($("chart-compare"), ids.map((id) => ({
    label: id, ...column(state.series[`${kind}:${id}`]?.records || [], name),
  })), { title: `${key} across runs` });
}

// --- latent explorer ------------------------------------------------------------------------
async function loadExplorer() {
  const d = state.detail;
  const box = $("explorer");
  if (!d || !d.has_checkpoint) { box.hidden = true; return; }
  box.hidden = false;
  if (state.explorerFor === d.id) return;
  state.explorerFor = d.id;
  try {
    const info = await getJSON(`${apiRun(d.id)}/explore`);
    if (state.selected !== d.id) return;
    state.explorer = info;
    $("explorer").dataset.kind = info.kind;  // image grids and toy scatters are sized apart
    $("explore-source").textContent = `(checkpoint at step ${info.step}, on the CPU)`;
    $("explore-n").value = info.kind === "image" ? 16 : 500;
    $("explore-hint").hidden = info.kind !== "image";
    const labelBox = $("explore-label-box");
    labelBox.hidden = !info.num_classes;
    $("explore-text-box").hidden = !info.text;  // text-to-image runs take a typed caption
    const sel = $("explore-label");
    sel.innerHTML = "";
    sel.add(new Option("random", ""));
    for (let c = 0; c < (info.num_classes || 0); c++) {
      sel.add(new Option(info.class_names[c] || String(c), String(c)));
    }
    // One control per InfoGAN code: a menu for a categorical code, a slider for a continuous one.
    const codes = $("explore-codes");
    codes.innerHTML = "";
    for (const code of info.codes) {
      const label = document.createElement("label");
      label.textContent = `code ${code.index} `;
      let input;
      if (code.values) {
        input = document.createElement("select");
        input.add(new Option("random", ""));
        for (let v = 0; v < code.values; v++) input.add(new Option(String(v), String(v)));
      } else {
        input = Object.assign(document.createElement("input"),
          { type: "range", min: "-2", max: "2", step: "0.1", value: "0" });
      }
      input.className = "code";
      input.dataset.index = code.index;
      input.addEventListener("change", drawSamples);
      label.appendChild(input);
      codes.appendChild(label);
    }
    // Runs that learn an encoder: held-out real data beside G(E(x)).
    $("recon-box").hidden = !info.reconstruct;
    $("recon-hint").textContent = info.kind === "image"
      ? "Top row: held-out real images (the same ones every time); bottom row: G(E(x))."
      : "Held-out real points (black) joined to their reconstructions G(E(x)) (blue).";
    $("recon-n").value = info.kind === "image" ? 8 : 300;
    drawSamples();
    interpolate();
    if (info.reconstruct) reconstruct();
  } catch (e) {
    $("explore-error").textContent = e.message;
  }
}

function explorerParams() {
  const q = new URLSearchParams();
  const label = $("explore-label").value;
  if (state.explorer?.num_classes && label !== "") q.set("label", label);
  const text = $("explore-text").value.trim();
  if (state.explorer?.text && text !== "") q.set("text", text);
  const codes = [...document.querySelectorAll("#explore-codes .code")]
    .filter((input) => input.value !== "")
    .map((input) => `${input.dataset.index}:${input.value}`);
  if (codes.length) q.set("code", codes.join(","));
  return q;
}

// Fetched as a blob so that an error comes back as its JSON message, not a broken image.
async function showPng(img, url) {
  $("explore-error").textContent = "";
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) {
    const body = await r.json().catch(() => ({}));
    $("explore-error").textContent = body.error || r.statusText;
    return false;
  }
  const old = img.src;
  img.src = URL.createObjectURL(await r.blob());
  if (old.startsWith("blob:")) URL.revokeObjectURL(old);
  return true;
}

async function drawSamples() {
  const q = explorerParams();
  const seed = $("explore-seed").value || "0", n = $("explore-n").value || "16";
  q.set("seed", seed); q.set("n", n);
  state.picked = [];
  const img = $("explore-image");
  if (await showPng(img, `${apiRun(state.selected)}/explore/samples.png?${q}`)) {
    img.dataset.seed = seed; img.dataset.n = n;
  }
}

async function interpolate() {
  const q = explorerParams();
  q.set("a", $("interp-a").value || "0");
  q.set("b", $("interp-b").value || "1");
  q.set("steps", $("interp-steps").value || "8");
  q.set("slerp", $("interp-slerp").checked ? "1" : "0");
  await showPng($("interp-image"), `${apiRun(state.selected)}/explore/interpolate.png?${q}`);
}

async function reconstruct() {
  const n = $("recon-n").value || "8";
  const img = $("recon-image");
  if (await showPng(img, `${apiRun(state.selected)}/explore/reconstruct.png?n=${enc(n)}`)) {
    img.dataset.n = n;
  }
}

// Tile i of the grid was drawn from seed + i: two clicks choose the interpolation's ends.
function pickTile(ev) {
  const img = ev.target;
  if (state.explorer?.kind !== "image" || !img.naturalWidth) return;
  const n = Number(img.dataset.n), cols = Math.ceil(Math.sqrt(n)), rows = Math.ceil(n / cols);
  const col = Math.floor((ev.offsetX / img.clientWidth) * cols);
  const row = Math.floor((ev.offsetY / img.clientHeight) * rows);
  const i = row * cols + col;
  if (i >= n) return;
  state.picked.push(Number(img.dataset.seed) + i);
  if (state.picked.length === 2) {
    $("interp-a").value = state.picked[0]; $("interp-b").value = state.picked[1];
    state.picked = [];
    interpolate();
  }
}

// --- the polling loop -----------------------------------------------------------------------
function updateHash() {
  const parts = [];
  if (state.selected) parts.push(`run=${enc(state.selected)}`);
  if (state.compare.size) parts.push(`compare=${[...state.compare].map(enc).join(",")}`);
  history.replaceState(null, "", parts.length ? `#${parts.join("&")}` : location.pathname);
}

function readHash() {
  const q = new URLSearchParams(location.hash.slice(1));
  if (q.get("run")) state.selected = q.get("run");
  if (q.get("compare")) for (const id of q.get("compare").split(",")) if (id) state.compare.add(id);
}

let ticking = false;
async function tick() {
  if (ticking) return;
  ticking = true;
  try {
    const list = await getJSON("/api/runs");
    state.runs = list.runs;
    $("root-dir").textContent = list.root;
    if (!state.selected && state.runs.length) state.selected = state.runs[0].id;
    renderRunList();
    const id = state.selected;
    if (id && state.runs.some((r) => r.id === id)) {
      const [detail] = await Promise.all([
        getJSON(apiRun(id)), syncSeries("stats", id), syncSeries("metrics", id),
      ]);
      if (state.selected === id) {
        state.detail = detail;
        renderRun();
        renderCharts();
        loadExplorer();
      }
    }
    const others = [...state.compare].filter((c) => state.runs.some((r) => r.id === c));
    if (others.length >= 2) {
      await Promise.all(others.flatMap((c) => [syncSeries("stats", c), syncSeries("metrics", c)]));
    }
    renderCompare();
    $("live").textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    $("live").classList.remove("error");
  } catch (e) {
    $("live").textContent = `cannot reach the dashboard server (${e.message}); retrying`;
    $("live").classList.add("error");
  } finally {
    ticking = false;
  }
}

function start() {
  readHash();
  $("compare-key").addEventListener("change", renderCompare);
  $("explore-draw").addEventListener("click", drawSamples);
  $("explore-new").addEventListener("click", () => {
    $("explore-seed").value = Math.floor(Math.random() * 1e6);
    drawSamples();
  });
  $("explore-label").addEventListener("change", drawSamples);
  $("explore-text").addEventListener("change", drawSamples);
  $("interp-go").addEventListener("click", interpolate);
  $("recon-go").addEventListener("click", reconstruct);
  $("explore-image").addEventListener("click", pickTile);
  // Charts in a closed <details> have no size: draw them when it opens.
  $("stat-box").addEventListener("toggle", () => { renderCharts.drawn = null; renderCharts(); });
  window.addEventListener("resize", () => { renderCharts.drawn = null; renderCharts(); renderCompare(); });
  tick();
  setInterval(tick, POLL_MS);
}

start();
