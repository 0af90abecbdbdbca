// The page: gathers the choices, hands them to the WebAssembly module (pkg/, built by
// scripts/build-page.sh), and shows what comes back. Every number is computed by wgtrain;
// every error is wgtrain's own message.
import init, { WebRun, schema } from "./pkg/wgtrain_web.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const files = { csv: null, test: null, checkpoint: null };
let run = null;
let epochs = [];

function showError(e) {
  const text = String(e && e.message ? e.message : e);
  $("error").textContent = text;
  $("error").hidden = false;
  return text;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

async function readFile(file) {
  return { name: file.name, bytes: new Uint8Array(await file.arrayBuffer()) };
}

async function describeWebGpu() {
  if (!navigator.gpu) {
    $("gpu").textContent = "This browser has no WebGPU: training runs on the CPU path. (Chrome and Edge have WebGPU on Windows, macOS and ChromeOS; on Linux start Chrome with --enable-unsafe-webgpu; Safari 26 and Firefox 141 on Windows have it too.)";
    return;
  }
  const adapter = await navigator.gpu.requestAdapter();
  $("gpu").textContent = adapter
    ? "WebGPU is available: training runs on this computer's GPU."
    : "WebGPU is there but offered no adapter: training runs on the CPU path.";
}

async function showSchema() {
  $("schema").textContent = "";
  if (!files.csv) return;
  try {
    const s = JSON.parse(schema(files.csv.name, files.csv.bytes, JSON.stringify(csvOptions({ data: files.csv.name }))));
    $("schema").innerHTML = `<pre>${escapeHtml(s.lines.join("\n"))}</pre>`;
    clearError();
  } catch (e) {
    showError(e);
  }
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

// The CSV reading settings the person filled in, added to `o` (blank fields left out: the
// reader then detects them).
const CSV_FIELDS = ["label", "targets", "delimiter", "decimal", "thousands", "encoding", "comment", "na_values"];

function csvOptions(o) {
  for (const key of CSV_FIELDS) {
    const v = $(key).value.trim();
    if (v !== "") o[key] = v;
  }
  if ($("drop_missing_target").checked) o.drop_missing_target = true;
  if ($("day_first").checked) o.day_first = true;
  return o;
}

function options() {
  const num = (id) => ($(id).value.trim() === "" ? undefined : Number($(id).value));
  const o = {
    data: $("dataset").value === "csv" ? (files.csv ? files.csv.name : "") : $("dataset").value,
    hidden: $("hidden").value.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number),
    activation: $("activation").value,
    optimizer: $("optimizer").value,
    lr: num("lr"),
    batch: num("batch"),
    epochs: num("epochs"),
    device: $("device").value,
  };
  if ($("dataset").value === "csv") {
    if (!files.csv) throw new Error("choose or drop a CSV file first");
    csvOptions(o);
    if (files.test) o.test = files.test.name;
    else if ($("valid_split").value.trim()) o.valid_split = num("valid_split");
  }
  if (files.checkpoint) {
    if ($("resume").checked) o.resume = files.checkpoint.name;
    else o.init = files.checkpoint.name;
  }
  return o;
}

function plot() {
  const c = $("plot");
  const g = c.getContext("2d");
  const W = c.width, H = c.height, L = 50, R = 50, T = 20, B = 30;
  g.clearRect(0, 0, W, H);
  g.font = "12px system-ui, sans-serif";
  g.strokeStyle = "#999";
  g.strokeRect(L, T, W - L - R, H - T - B);
  if (epochs.length === 0) return;
  const n = epochs[epochs.length - 1].epoch;
  const first = epochs[0].epoch;
  const losses = epochs.flatMap((e) => [e.train_loss, e.held_loss]).filter((v) => v != null && isFinite(v));
  const top = Math.max(...losses, 1e-9) * 1.05;
  const x = (ep) => L + (n === first ? 0.5 : (ep - first) / (n - first)) * (W - L - R);
  const yl = (v) => T + (1 - v / top) * (H - T - B);
  const ya = (v) => T + (1 - v) * (H - T - B);
  const line = (key, y, colour) => {
    const pts = epochs.filter((e) => e[key] != null);
    if (pts.length === 0) return;
    g.strokeStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    pts.forEach((e, i) => (i ? g.lineTo(x(e.epoch), y(e[key])) : g.moveTo(x(e.epoch), y(e[key]))));
    g.stroke();
    g.fillStyle = colour;
    pts.forEach((e) => g.fillRect(x(e.epoch) - 2, y(e[key]) - 2, 4, 4));
  };
  line("train_loss", yl, "#1f77b4");
  line("held_loss", yl, "#ff7f0e");
  line("held_acc", ya, "#2ca02c");
  g.fillStyle = "#333";
  g.fillText(top.toPrecision(3), 4, T + 10);
  g.fillText("0", 30, H - B);
  g.fillText("loss", 4, H / 2);
  g.fillText("100%", W - R + 4, T + 10);
  g.fillText("acc.", W - R + 4, H / 2);
  g.fillText(`epoch ${first}`, L, H - 10);
  g.fillText(`${n}`, W - R - 20, H - 10);
  // The legend under the plot, between the epoch labels.
  g.fillStyle = "#1f77b4"; g.fillText("train loss", L + 90, H - 10);
  g.fillStyle = "#ff7f0e"; g.fillText("test (or held-out) loss", L + 170, H - 10);
  g.fillStyle = "#2ca02c"; g.fillText("accuracy (right axis)", L + 320, H - 10);
}

function confusion(e) {
  if (!e || !e.confusion || e.confusion.length === 0) return;
  const names = e.classes || e.confusion.map((_, i) => String(i));
  const head = names.map((n) => `<th>${escapeHtml(n)}</th>`).join("");
  const rows = e.confusion.map((row, i) =>
    `<tr><th>${escapeHtml(names[i])}</th>${row.map((v, j) => `<td class="${i === j ? "diag" : ""}">${v}</td>`).join("")}</tr>`);
  $("confusion").innerHTML = `<p>Test rows: accuracy ${(100 * e.accuracy).toFixed(2)}%. Rows: true class, columns: predicted.</p>` +
    `<table class="confusion"><tr><th></th>${head}</tr>${rows.join("")}</table>`;
}

async function train() {
  clearError();
  $("confusion").textContent = "";
  $("download").hidden = true;
  $("predict-box").hidden = true;
  $("predictions").hidden = true;
  epochs = [];
  plot();
  $("train").disabled = true;
  $("status").textContent = "Opening the device and reading the data…";
  try {
    const o = options();
    const given = [files.csv, files.test, files.checkpoint].filter((f) => f);
    run = await WebRun.open(JSON.stringify(o), given.map((f) => f.name), given.map((f) => f.bytes));
    $("notes").innerHTML = run.notes().map((n) => `<li>${escapeHtml(n)}</li>`).join("");
    $("status").textContent = `Training on ${run.device()}…`;
    $("stop").disabled = false;
    const started = performance.now();
    const result = JSON.parse(await run.fit((json) => {
      const e = JSON.parse(json);
      // Measured on the test rows, or else on the held-out ones.
      e.held_loss = e.test_loss ?? e.valid_loss;
      e.held_acc = e.test_acc ?? e.valid_acc;
      epochs.push(e);
      plot();
      const acc = e.held_acc != null ? `, ${e.test_acc != null ? "test" : "held-out"} accuracy ${(100 * e.held_acc).toFixed(2)}%` : "";
      $("status").textContent = `Epoch ${e.epoch}: train loss ${e.train_loss.toFixed(4)}${acc} (on ${run.device()})`;
    }));
    const seconds = (performance.now() - started) / 1000;
    $("stop").disabled = true;
    const evaluation = JSON.parse(await run.evaluate());
    confusion(evaluation);
    const bytes = await run.checkpoint();
    $("download").href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    $("download").hidden = false;
    $("predict-box").hidden = false;
    const last = epochs[epochs.length - 1];
    $("status").textContent = `${result.interrupted ? "Stopped" : "Done"} after ${result.epochs.length} epochs in ${seconds.toFixed(1)} s on ${result.device}` +
      (last && last.held_acc != null ? `: ${last.test_acc != null ? "test" : "held-out"} accuracy ${(100 * last.held_acc).toFixed(2)}%.` : ".");
    result.seconds = seconds;
    result.evaluation = evaluation;
    $("result").textContent = JSON.stringify(result);
    $("result").hidden = false;
    document.title = "done";
  } catch (e) {
    $("stop").disabled = true;
    $("status").textContent = "Failed.";
    document.title = `failed: ${showError(e)}`;
  } finally {
    $("train").disabled = false;
  }
}

async function predict(file) {
  try {
    const f = await readFile(file);
    const csv = await run.predict(f.name, f.bytes);
    $("predictions").textContent = csv;
    $("predictions").hidden = false;
    clearError();
  } catch (e) {
    showError(e);
  }
}

function wire() {
  $("dataset").addEventListener("change", () => {
    $("csv-box").hidden = $("dataset").value !== "csv";
  });
  $("csv-file").addEventListener("change", async (ev) => {
    if (ev.target.files[0]) { files.csv = await readFile(ev.target.files[0]); await showSchema(); }
  });
  $("test-file").addEventListener("change", async (ev) => {
    files.test = ev.target.files[0] ? await readFile(ev.target.files[0]) : null;
  });
  $("checkpoint").addEventListener("change", async (ev) => {
    files.checkpoint = ev.target.files[0] ? await readFile(ev.target.files[0]) : null;
  });
  for (const key of CSV_FIELDS) $(key).addEventListener("change", showSchema);
  $("drop_missing_target").addEventListener("change", showSchema);
  $("day_first").addEventListener("change", showSchema);
  const drop = $("drop");
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    const file = ev.dataTransfer.files[0];
    if (file) { files.csv = await readFile(file); await showSchema(); }
  });
  $("train").addEventListener("click", train);
  $("stop").addEventListener("click", () => run && run.stop());
  $("predict-file").addEventListener("change", (ev) => ev.target.files[0] && predict(ev.target.files[0]));
}

// ?dataset=digits&epochs=3&hidden=64&lr=0.1&batch=32&device=gpu&autostart=1 sets the form
// and trains without a click (the page test uses it); ?csv=URL fetches a CSV file from the
// same server as the dataset.
async function fromUrl() {
  for (const key of ["hidden", "activation", "optimizer", "lr", "batch", "epochs", "device", "valid_split", ...CSV_FIELDS]) {
    if (params.has(key)) $(key).value = params.get(key);
  }
  if (params.has("dataset")) $("dataset").value = params.get("dataset");
  if (params.has("csv")) {
    const url = params.get("csv");
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
    files.csv = { name: url.split("/").pop(), bytes: new Uint8Array(await response.arrayBuffer()) };
    $("dataset").value = "csv";
    await showSchema();
  }
  $("csv-box").hidden = $("dataset").value !== "csv";
}

async function main() {
  try {
    await init();
    wire();
    await describeWebGpu();
    await fromUrl();
    if (params.get("autostart") === "1") await train();
  } catch (e) {
    document.title = `failed: ${showError(e)}`;
  }
}

main();
