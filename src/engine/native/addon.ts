/** The native addon (native/addon.cc): its typing and loading (optional: absent when oneDNN is not installed). */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Addon {
  conv(
    mode: number,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    params: Int32Array,
    bias?: Float32Array,
  ): void;
  matmul(
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    bA: number,
    bB: number,
    m: number,
    k: number,
    n: number,
    tA: boolean,
    tB: boolean,
  ): void;
  unary(op: number, x: Float32Array, out: Float32Array, alpha?: number, beta?: number): void;
  depthwiseConv(
    x: Float32Array,
    filter: Float32Array,
    out: Float32Array,
    params: Int32Array,
    bias?: Float32Array,
  ): void;
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    out: Float32Array,
    eps: number,
  ): void;
  binary(
    op: number,
    a: Float32Array,
    aShape: number[],
    b: Float32Array,
    bShape: number[],
    out: Float32Array,
    outShape: number[],
  ): void;
  addN(out: Float32Array, ...xs: Float32Array[]): void;
  reduce(op: number, x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  attention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    b: number,
    n: number,
    ck: number,
    cv: number,
  ): void;
  transpose(
    x: Float32Array | Int32Array,
    out: Float32Array | Int32Array,
    shape: number[],
    perm: number[],
  ): void;
  concat(
    out: Float32Array | Int32Array,
    outer: number,
    parts: (Float32Array | Int32Array)[],
    inner: number[],
  ): void;
  split(
    x: Float32Array | Int32Array,
    outer: number,
    parts: (Float32Array | Int32Array)[],
    inner: number[],
  ): void;
  avgPool(x: Float32Array, out: Float32Array, params: Int32Array, grad: boolean): void;
  maxPool(x: Float32Array, out: Float32Array, params: Int32Array): void;
  slice(
    x: Float32Array | Int32Array,
    out: Float32Array | Int32Array,
    shape: number[],
    begin: number[],
    size: number[],
  ): void;
  instanceNorm(
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    b: number,
    hw: number,
    c: number,
    gammaBatch: number,
    eps: number,
    relu?: boolean,
  ): void;
  instanceNormGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    b: number,
    hw: number,
    c: number,
    gammaBatch: number,
  ): void;
  spectralPower(
    w: Float32Array,
    u: Float32Array,
    uOut: Float32Array,
    vOut: Float32Array,
    fanIn: number,
    out: number,
    update: boolean,
  ): void;
  spectralDiv(
    w: Float32Array,
    u: Float32Array,
    v: Float32Array,
    out: Float32Array,
    fanIn: number,
    o: number,
  ): number;
  spectralDivGrad(
    dy: Float32Array,
    w: Float32Array,
    u: Float32Array,
    v: Float32Array,
    dw: Float32Array,
    fanIn: number,
    o: number,
    sigma: number,
  ): void;
  resize(
    bilinear: boolean,
    grad: boolean,
    a: Float32Array,
    out: Float32Array,
    params: Int32Array,
    align: boolean,
    half: boolean,
  ): void;
  adam(
    p: Float32Array,
    m: Float32Array,
    v: Float32Array,
    g: Float32Array,
    po: Float32Array,
    mo: Float32Array,
    vo: Float32Array,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    step: number,
  ): void;
  winogradMin(channels?: number): number;
  winogradTile(tile?: number): number;
  winogradCalls(): number;
  isa(name?: string): string;
  cpuIsa(): string;
  bf16(on?: boolean): boolean;
  cpuBf16(): boolean;
  bf16Training(on?: boolean): boolean;
  setThreads(n: number): void;
  getThreads(): number;
  version(): string;
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/build/Release/nth_native.node', import.meta.url));
let addon: Addon | null | undefined;
let loadError = '';

/** The addon, or null when it is not built (or fails to load: the reason is in nativeLoadError()). */
export function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  if (!existsSync(ADDON_PATH)) {
    loadError = 'not built (install libdnnl-dev, then npm run build:native)';
    addon = null;
    return addon;
  }
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (e) {
    loadError = `failed to load: ${(e as Error).message}`;
    addon = null;
  }
  return addon;
}

export function nativeLoadError(): string {
  return loadError;
}
