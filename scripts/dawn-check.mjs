// Runs loss_forward_backward (shaders/loss.wgsl, assembled as the host does) under Dawn/Tint at
// WebGPU's default limits on the fixtures tests/dawn_fixtures.rs writes, and checks dz, the
// per-row loss and the argmax flag against the f64 reference with the tests' tolerance.
// Usage: node dawn-check.mjs FIXTURES_DIR   (scripts/dawn-check.sh installs `webgpu` and runs it)
// $WGTRAIN_DAWN_WEBGPU: the `webgpu` package's folder when it is not installed beside the script.
// $WGTRAIN_DAWN_BACKENDS: Dawn backends to try, comma-separated (default vulkan,opengles); every
// one that yields an adapter runs all cases. Exits 1 on any mismatch, 2 when none ran.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = process.env.WGTRAIN_DAWN_WEBGPU;
const { create, globals } = await import(pkg ? pathToFileURL(join(pkg, 'index.js')).href : 'webgpu');

Object.assign(globalThis, globals);

// TRANSCENDENTAL in tests/common/mod.rs: exp/log in f32 against f64.
const TOL = { rtol: 1e-5, atol: 1e-6 };
// Core WebGPU's default workgroup limits (compatibility mode's are 128).
const CORE_WORKGROUP_LIMITS = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 256,
};
// The sentinel the outputs start as, so an unwritten element fails.
const UNWRITTEN = NaN;

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node dawn-check.mjs FIXTURES_DIR');
  process.exit(2);
}
const source = readFileSync(join(dir, 'loss.wgsl'), 'utf8');
const { entry_point: entryPoint, cases } = JSON.parse(readFileSync(join(dir, 'loss_cases.json'), 'utf8'));

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
  const i = worst.i;
  return { bad, i, got: got[i], want: want[i], diff: worst.diff };
}

function describe(label, c) {
  const status = c.bad ? `FAIL ${c.bad}/` : 'ok   0/';
  return `${label} ${status}: worst |diff| ${c.diff.toExponential(2)} at [${c.i}] got ${c.got} want ${c.want}`;
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

async function runCase(device, pipeline, layout, c) {
  const { m, n } = c;
  const storage = (data, extra = 0) => {
    const b = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | extra });
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const out = storage(Float32Array.from(c.out));
  const y = storage(Float32Array.from(c.y));
  const dz = storage(new Float32Array(m * n).fill(UNWRITTEN), GPUBufferUsage.COPY_SRC);
  const rowStats = storage(new Float32Array(2 * m).fill(UNWRITTEN), GPUBufferUsage.COPY_SRC);
  const params = device.createBuffer({ size: 4 * c.params_u32.length, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(params, 0, Uint32Array.from(c.params_u32));
  const bindGroup = device.createBindGroup({
    layout,
    entries: [
      { binding: 0, resource: { buffer: out } },
      { binding: 1, resource: { buffer: y } },
      { binding: 2, resource: { buffer: dz } },
      { binding: 3, resource: { buffer: rowStats } },
      { binding: 5, resource: { buffer: params } },
    ],
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(...c.groups);
  pass.end();
  device.queue.submit([enc.finish()]);
  const gotDz = await readBack(device, dz, 4 * m * n);
  const stats = await readBack(device, rowStats, 8 * m);
  for (const b of [out, y, dz, rowStats, params]) b.destroy();
  const rowLoss = Array.from({ length: m }, (_, r) => stats[2 * r]);
  const rowCorrect = Array.from({ length: m }, (_, r) => stats[2 * r + 1]);
  return {
    dz: compare(gotDz, c.dz, TOL),
    loss: compare(rowLoss, c.row_loss, TOL),
    correct: compare(rowCorrect, c.row_correct, { rtol: 0, atol: 0 }),
  };
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
  // below what the shader uses, so ask there for core's defaults.
  const requiredLimits = featureLevel === 'core' ? {} : CORE_WORKGROUP_LIMITS;
  const device = await adapter.requestDevice({ requiredLimits });
  const errors = [];
  device.onuncapturederror = (e) => errors.push(e.error.message);
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: source });
  const compiled = await module.getCompilationInfo();
  for (const msg of compiled.messages) {
    if (msg.type === 'error') errors.push(`WGSL ${msg.lineNum}:${msg.linePos} ${msg.message}`);
  }
  // The binding table of Kernel::LossForwardBackward: out, y read; dz, row_stats read_write;
  // params uniform (4 and 6 belong to loss_stats).
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      { binding: 3, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      { binding: 5, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    ],
  });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint },
  });
  const scoped = await device.popErrorScope();
  if (scoped) errors.push(scoped.message);
  if (errors.length) {
    console.log(`dawn ${backend}: building ${entryPoint} failed:\n  ${errors.join('\n  ')}`);
    device.destroy();
    return false;
  }
  let ok = true;
  for (const c of cases) {
    const r = await runCase(device, pipeline, layout, c);
    const pass = !r.dz.bad && !r.loss.bad && !r.correct.bad;
    ok &&= pass;
    console.log(`${pass ? 'PASS' : 'FAIL'} ${backend} ${c.name} (wide=${c.wide})`);
    console.log(`  ${describe('dz      ', r.dz)}`);
    console.log(`  ${describe('row loss', r.loss)}`);
    console.log(`  ${describe('correct ', r.correct)}`);
  }
  if (errors.length) {
    console.log(`dawn ${backend}: ${errors.length} device errors, the distinct ones:\n  ${[...new Set(errors)].join('\n  ')}`);
    ok = false;
  }
  device.destroy();
  return ok;
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
