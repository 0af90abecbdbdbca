// Runs every entry point of every shader (the modules assembled as the host does) under
// Dawn/Tint at WebGPU's default limits on the fixtures tests/dawn_fixtures.rs writes, and checks
// each case's outputs against the f64 reference with the kernel tests' tolerances.
// Usage: node dawn-check.mjs FIXTURES_DIR   (scripts/dawn-check.sh installs `webgpu` and runs it)
// $WGTRAIN_DAWN_WEBGPU: the `webgpu` package's folder when it is not installed beside the script.
// $WGTRAIN_DAWN_BACKENDS: Dawn backends to try, comma-separated (default vulkan,opengles); every
// one that yields an adapter runs all cases. $WGTRAIN_DAWN_ONLY: a substring of the case names
// to run alone. Prints a line per case (FAIL ones with the worst element per output) and exits 1
// on any mismatch or device error, 2 when no backend ran.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = process.env.WGTRAIN_DAWN_WEBGPU;
const { create, globals } = await import(pkg ? pathToFileURL(join(pkg, 'index.js')).href : 'webgpu');

Object.assign(globalThis, globals);

// Core WebGPU's default workgroup limits (compatibility mode's are 128).
const CORE_WORKGROUP_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
};
// The per-step uniform's window sits at this dynamic offset (the second slot, as in training).
const STEP_OFFSET = 256;

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node dawn-check.mjs FIXTURES_DIR');
  process.exit(2);
}
const fixtures = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
const only = process.env.WGTRAIN_DAWN_ONLY;
const cases = fixtures.cases.filter((c) => !only || c.name.includes(only));

// Worst element of got against want: the one furthest past atol + rtol |want| (any non-finite
// got is worst), with how many are outside the tolerance.
function compare(got, want, tol) {
  let worst = { i: -1, excess: -Infinity, diff: 0 };
  let bad = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    const diff = Math.abs(g - w);
    const excess = Number.isFinite(g) ? diff - (tol.atol + tol.rtol * Math.abs(w)) : Infinity;
    if (excess > 0) bad++;
    if (excess > worst.excess) worst = { i, excess, diff: Number.isFinite(g) ? diff : Infinity };
  }
  if (got.length !== want.length) bad = Math.max(bad, 1);
  const i = worst.i;
  return { bad, i, got: got[i], want: want[i], diff: worst.diff, n: want.length };
}

async function readBack(device, buffer, bytes) {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return data;
}

// The bind group layout entry of one fixture binding.
function layoutEntry(b) {
  const type = { read: 'read-only-storage', write: 'storage', uniform: 'uniform', step: 'uniform' }[b.kind];
  return {
    binding: b.binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type, hasDynamicOffset: b.kind === 'step' },
  };
}

// The buffer of one fixture binding, filled: f32 or u32 data, or for an output without
// starting values NaN (so an element the kernel does not write fails).
function makeBuffer(device, b) {
  let data;
  if (b.u32) data = Uint32Array.from(b.u32);
  else if (b.f32) data = Float32Array.from(b.f32);
  else data = new Float32Array(b.len).fill(NaN);
  let bytes = Math.max(4, data.byteLength);
  let at = 0;
  let usage = GPUBufferUsage.COPY_DST;
  if (b.kind === 'uniform' || b.kind === 'step') usage |= GPUBufferUsage.UNIFORM;
  else usage |= GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  if (b.kind === 'step') {
    at = STEP_OFFSET;
    bytes = 2 * STEP_OFFSET;
  }
  bytes = Math.ceil(bytes / 16) * 16;
  const buffer = device.createBuffer({ size: bytes, usage });
  if (data.byteLength) device.queue.writeBuffer(buffer, at, data);
  const size = b.kind === 'step' ? data.byteLength : bytes;
  return { buffer, size, bytes: data.byteLength };
}

async function runCase(device, modules, c) {
  const errors = [];
  device.pushErrorScope('validation');
  const layout = device.createBindGroupLayout({ entries: c.bindings.map(layoutEntry) });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: modules[c.module], entryPoint: c.entry },
  });
  const buffers = c.bindings.map((b) => makeBuffer(device, b));
  const bindGroup = device.createBindGroup({
    layout,
    entries: c.bindings.map((b, i) => ({
      binding: b.binding,
      resource: { buffer: buffers[i].buffer, size: buffers[i].size },
    })),
  });
  const dynamic = c.bindings.filter((b) => b.kind === 'step').map(() => STEP_OFFSET);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup, dynamic);
  pass.dispatchWorkgroups(...c.groups);
  pass.end();
  device.queue.submit([enc.finish()]);
  const scoped = await device.popErrorScope();
  if (scoped) errors.push(scoped.message);
  const results = [];
  for (const [i, b] of c.bindings.entries()) {
    if (!b.expect || errors.length) continue;
    const got = await readBack(device, buffers[i].buffer, buffers[i].bytes);
    results.push({ label: b.label, tol: b.tol, ...compare(got, b.expect, b.tol) });
  }
  for (const { buffer } of buffers) buffer.destroy();
  return { errors, results };
}

// Dawn's instances, kept alive as long as their adapters and devices (collecting one crashes).
const instances = [];

async function adapterFor(backend) {
  const gpu = create([`backend=${backend}`]);
  instances.push(gpu);
  for (const featureLevel of ['core', 'compatibility']) {
    const adapter = await gpu.requestAdapter({ featureLevel, forceFallbackAdapter: false })
      ?? await gpu.requestAdapter({ featureLevel, forceFallbackAdapter: true });
    if (adapter) return { adapter, featureLevel };
  }
  return null;
}

async function runBackend(backend) {
  const found = await adapterFor(backend);
  if (!found) {
    console.log(`dawn ${backend}: no adapter (rerun with DEBUG or see Dawn's warnings above)`);
    return null;
  }
  const { adapter, featureLevel } = found;
  const info = adapter.info;
  console.log(`dawn ${backend} (${featureLevel}): ${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
  // WebGPU's default limits; the compatibility level (Dawn on GL ES) lowers the workgroup ones
  // below what the shaders use, so ask there for core's defaults.
  const requiredLimits = featureLevel === 'core' ? {} : CORE_WORKGROUP_LIMITS;
  const device = await adapter.requestDevice({ requiredLimits });
  const uncaptured = [];
  device.onuncapturederror = (e) => uncaptured.push(e.error.message);
  const modules = {};
  let ok = true;
  for (const file of Object.keys(fixtures.modules)) {
    device.pushErrorScope('validation');
    modules[file] = device.createShaderModule({ label: file, code: readFileSync(join(dir, file), 'utf8') });
    const info = await modules[file].getCompilationInfo();
    const scoped = await device.popErrorScope();
    const errs = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    if (scoped) errs.push(scoped.message);
    if (errs.length) {
      console.log(`FAIL ${backend} compiling ${file}:\n  ${errs.join('\n  ')}`);
      ok = false;
    }
  }
  let passed = 0;
  const t0 = Date.now();
  for (const c of cases) {
    const { errors, results } = await runCase(device, modules, c);
    const fine = !errors.length && results.every((r) => !r.bad);
    ok &&= fine;
    passed += fine;
    const worst = results.map((r) => `${r.label} ${r.bad}/${r.n} worst ${r.diff.toExponential(1)}`).join(', ');
    console.log(`${fine ? 'ok  ' : 'FAIL'} ${backend} ${c.name}: ${errors.length ? errors.join('; ') : worst}`);
    if (!fine) {
      for (const r of results.filter((r) => r.bad)) {
        console.log(`     ${r.label}: ${r.bad} of ${r.n} outside rtol ${r.tol.rtol} + atol ${r.tol.atol}; worst [${r.i}] got ${r.got} want ${r.want}`);
      }
    }
  }
  console.log(`dawn ${backend}: ${passed} of ${cases.length} cases passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (uncaptured.length) {
    console.log(`dawn ${backend}: ${uncaptured.length} device errors, the distinct ones:\n  ${[...new Set(uncaptured)].join('\n  ')}`);
    ok = false;
  }
  device.destroy();
  return ok;
}

if (!cases.length) {
  console.log(`dawn-check: no case matches WGTRAIN_DAWN_ONLY=${only}`);
  process.exit(2);
}
const backends = (process.env.WGTRAIN_DAWN_BACKENDS ?? 'vulkan,opengles').split(',').filter(Boolean);
const results = [];
for (const b of backends) results.push([b, await runBackend(b)]);
const ran = results.filter(([, r]) => r !== null);
console.log(results.map(([b, r]) => `${b}: ${r === null ? 'no adapter' : r ? 'passed' : 'FAILED'}`).join(', '));
if (!ran.length) {
  console.log('dawn-check: no Dawn backend ran; nothing was checked');
  process.exit(2);
}
process.exit(ran.every(([, r]) => r) ? 0 : 1);
