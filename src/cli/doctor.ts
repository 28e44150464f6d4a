/**
 * `talking-heads doctor`: what the engine is and whether it works here. Checks the backend's
 * training kernels against the cpu reference, runs a few training steps of the probe network, and
 * looks for ffmpeg and the face models.
 */
import { spawnSync } from 'node:child_process';
import type { Command } from '@commander-js/extra-typings';
import { loadMpiAddon, MPI_MISSING, mpiLoadError } from '../engine/mpi.js';
import { fileSha256, listShippedModels } from '../train/model.js';
import { backendOption } from './options.js';
import {
  engineInfo,
  initEngine,
  nativeAvailable,
  tensorflowAvailable,
  type EngineInfo,
} from '../engine/backend.js';
import { nativeFallbacks, nativeIsa, nativeLoadError, nativeVersion } from '../engine/native.js';
import { inferencePrecision } from '../engine/precision.js';
import { compareWithCpu, HEALTH_CASES, REL_TOLERANCE } from '../engine/kernel_check.js';
import { Rng } from '../engine/rng.js';
import { tf } from '../engine/tf.js';
import { WASM_PATCHES } from '../engine/wasm_kernels.js';
import { findFaceModels } from '../pretrained/faceapi_files.js';
import { findFfmpeg, type Found } from '../media/ffmpeg.js';
import { blobImages, makeProbeTrainer } from '../train/probe.js';

/** Kernels a training step of our networks calls (forward and backward). */
export const TRAINING_KERNELS = [
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'BatchMatMul',
  'Softmax',
  'AvgPool',
  'AvgPoolGrad',
  'ResizeNearestNeighbor',
  'ResizeNearestNeighborGrad',
  'ResizeBilinear',
  'ResizeBilinearGrad',
  'GatherV2',
  'UnsortedSegmentSum',
  'Relu',
  'Tanh',
  'Mean',
  'Sum',
  'Sqrt',
  'Rsqrt',
  'Transpose',
  'Slice',
  'Concat',
] as const;

export interface DoctorReport {
  engine: EngineInfo;
  tensorflowInstalled: boolean;
  native: {
    available: boolean;
    oneDNN: string | null;
    reason: string;
    fallbacks: string[];
    /** the instruction set of our multi-build kernels (native/isa.h), when the addon is built */
    isa: string | null;
  };
  /** what animation's forward pass runs in, and why (engine/precision.ts) */
  inference: { precision: string; reason: string };
  missingKernels: string[];
  patchedKernels: string[];
  health: { name: string; worst: number; ok: boolean }[];
  training: { ok: boolean; msPerStep: number; firstLoss: number; lastLoss: number; error?: string };
  ffmpeg: Found | null;
  faceModels: string | null;
  /** the optional MPI addon (data-parallel meta-learning) and the launcher on PATH */
  mpi: { available: boolean; reason: string; mpirun: boolean };
  /** shipped models, with whether each file's SHA-256 matches models/models.json */
  models: { name: string; resolution: number; step: number; intact: boolean }[];
  ok: boolean;
}

export async function runDoctor(backend?: string): Promise<DoctorReport> {
  const engine = await initEngine({ backend });
  const present = new Set(tf.getKernelsForBackend(engine.backend).map((k) => k.kernelName));
  const missingKernels = TRAINING_KERNELS.filter((k) => !present.has(k));
  let health: DoctorReport['health'] = [];
  if (engine.backend !== 'cpu') {
    const results = await compareWithCpu(engine.backend, HEALTH_CASES);
    health = results.map((r) => ({ name: r.name, worst: r.worst, ok: r.worst < REL_TOLERANCE }));
  }
  const training = trainingCheck();
  const report: DoctorReport = {
    engine: engineInfo(),
    tensorflowInstalled: await tensorflowAvailable(),
    native: {
      available: nativeAvailable(),
      oneDNN: nativeVersion(),
      reason: nativeLoadError(),
      fallbacks: nativeFallbacks(),
      isa: nativeAvailable() ? nativeIsa().active : null,
    },
    inference: inferencePrecision(),
    missingKernels,
    patchedKernels: engine.backend === 'wasm' ? Object.keys(WASM_PATCHES) : [],
    health,
    training,
    mpi: {
      available: loadMpiAddon() !== null,
      reason: mpiLoadError(),
      mpirun: spawnSync('mpirun', ['--version'], { stdio: 'ignore' }).status === 0,
    },
    ffmpeg: findFfmpeg(),
    faceModels: findFaceModels(),
    models: listShippedModels().map((m) => ({
      name: m.name,
      resolution: m.resolution,
      step: m.step,
      intact: fileSha256(m.path) === m.sha256,
    })),
    ok: missingKernels.length === 0 && health.every((h) => h.ok) && training.ok,
  };
  return report;
}

function trainingCheck(): DoctorReport['training'] {
  const t = makeProbeTrainer({ channels: 8, resolution: 32 }, 0, 3e-3);
  const x = tf.tensor4d(blobImages(new Rng(1), 2, 32), [2, 32, 32, 3]);
  try {
    const losses = [t.step(x)];
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) losses.push(t.step(x));
    const msPerStep = (performance.now() - t0) / 5;
    const firstLoss = losses[0]!;
    const lastLoss = losses[losses.length - 1]!;
    return { ok: Number.isFinite(lastLoss) && lastLoss < firstLoss, msPerStep, firstLoss, lastLoss };
  } catch (e) {
    return { ok: false, msPerStep: NaN, firstLoss: NaN, lastLoss: NaN, error: (e as Error).message };
  } finally {
    t.dispose();
    x.dispose();
  }
}

export function formatDoctor(r: DoctorReport): string {
  const mark = (ok: boolean) => (ok ? 'ok  ' : 'FAIL');
  const e = r.engine;
  const lines = [
    `neural-talking-heads doctor`,
    `  backend       ${e.backend} (chosen by ${e.source === 'option' ? '--backend' : e.source === 'env' ? 'TALKING_HEADS_BACKEND' : 'default'})`,
    `  threads       ${e.threads} of ${e.cores} cores${e.backend === 'wasm' ? ' (tfjs wasm runs single-threaded in Node)' : e.backend === 'native' ? ' (TALKING_HEADS_THREADS to change)' : ''}`,
    `  simd          ${e.simd ? 'yes' : 'no'}`,
    `  versions      node ${e.nodeVersion}, tfjs ${e.tfjsVersion}`,
    `  native        ${r.native.available ? `oneDNN ${r.native.oneDNN} addon built, own kernels ${r.native.isa} (NTH_ISA to lower): --backend native` : `unavailable: ${r.native.reason}`}`,
    `  inference     ${r.inference.precision}: ${r.inference.reason} (TALKING_HEADS_PRECISION=f32|bf16)`,
    `  tensorflow    ${r.tensorflowInstalled ? 'installed (@tensorflow/tfjs-node or -gpu): --backend tensorflow' : 'not installed (optional: npm install @tensorflow/tfjs-node, or @tensorflow/tfjs-node-gpu on a GPU node, where it can download libtensorflow)'}`,
    `  mpi           ${r.mpi.available ? `addon built${r.mpi.mpirun ? ', mpirun found' : ', but no mpirun on PATH (apt-get install openmpi-bin)'}: mpirun -np N talking-heads meta-train --distributed mpi` : `unavailable (optional): ${MPI_MISSING}`}`,
    ``,
    `training kernels on ${e.backend}: ${r.missingKernels.length === 0 ? `all ${TRAINING_KERNELS.length} present` : `MISSING ${r.missingKernels.join(', ')}`}`,
  ];
  if (r.patchedKernels.length) lines.push(`  patched by this project: ${r.patchedKernels.join(', ')}`);
  if (e.backend === 'native' && r.native.fallbacks.length)
    lines.push(`  ran on the JavaScript fallback: ${r.native.fallbacks.join(', ')}`);
  if (r.health.length) {
    lines.push(
      `kernel health vs cpu reference (values and gradients, max relative error < ${REL_TOLERANCE}):`,
    );
    for (const h of r.health) lines.push(`  ${mark(h.ok)} ${h.name.padEnd(44)} ${h.worst.toExponential(1)}`);
  } else {
    lines.push(`kernel health: cpu is the reference backend`);
  }
  const t = r.training;
  lines.push(
    t.error
      ? `  FAIL training check: ${t.error}`
      : `  ${mark(t.ok)} training check (probe net 32px, 6 Adam steps): loss ${t.firstLoss.toFixed(3)} -> ${t.lastLoss.toFixed(3)}, ${t.msPerStep.toFixed(0)} ms/step`,
  );
  lines.push(
    ``,
    `media`,
    `  ffmpeg        ${r.ffmpeg ? `${r.ffmpeg.path} (${r.ffmpeg.source})` : 'not found (needed for real videos: install ffmpeg, or npm install @ffmpeg-installer/ffmpeg)'}`,
    `  face models   ${r.faceModels ?? 'not found (needed for real photos/videos: npm install @vladmandic/face-api)'}`,
    ``,
    `shipped models (talking-heads models)`,
    ...(r.models.length
      ? r.models.map(
          (m) =>
            `  ${m.intact ? 'ok  ' : 'FAIL'} ${m.name.padEnd(20)} ${m.resolution}px, ${m.step} steps${m.intact ? '' : ': SHA-256 differs from models/models.json (reinstall the package)'}`,
        )
      : ['  none (the demo and fine-tune need one: pass --model FILE)']),
    ``,
    r.ok ? 'engine OK' : 'engine has PROBLEMS (see FAIL above)',
  );
  return lines.join('\n');
}

export function addDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the backend, its training kernels, threads, versions, ffmpeg and face models')
    .addOption(backendOption())
    .option('--json', 'print the report as JSON')
    .action(async (o) => {
      const report = await runDoctor(o.backend);
      console.log(o.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
      if (!report.ok) process.exitCode = 1;
    });
}
