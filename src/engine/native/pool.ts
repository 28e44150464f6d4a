/** The native backend's buffer pool for kernel outputs. */
/**
 * Recycles the native kernels' output buffers. Without it every kernel output is a fresh ArrayBuffer
 * that lives until V8 collects it: a 64px meta-learning step allocates ~1 GB that way, which costs
 * ~10 mark-compact and ~20 scavenge collections per step (~140 ms of a 1.1 s step) plus page faults
 * on the new memory. A buffer goes back to the pool when the one tensor that owns it is disposed;
 * a buffer that anything else may still see — read by dataSync()/data(), shared by a second tensor,
 * or viewed by a subarray — is never reused (it is simply left to the garbage collector).
 */
export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  /** our buffers -> the dataId that owns them (PENDING between allocation and the owner's write) */
  private readonly owner = new WeakMap<ArrayBuffer, object>();
  private readonly escaped = new WeakSet<ArrayBuffer>();
  private static readonly PENDING = {};
  pooledBytes = 0;
  reused = 0;
  allocated = 0;

  constructor(readonly maxPooledBytes: number) {}

  /** An output buffer without the zero fill of `new Float32Array(n)`: every kernel writes all of it. */
  take(n: number): Float32Array {
    const list = this.free.get(n);
    let a = list?.pop();
    if (a) {
      this.pooledBytes -= a.byteLength;
      this.reused++;
    } else {
      a = new Float32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
      this.allocated++;
    }
    this.owner.set(a.buffer as ArrayBuffer, BufferPool.PENDING);
    return a;
  }

  /** A tensor was created over `values` (backend.write / move). */
  written(values: unknown, dataId: object): void {
    if (!(values instanceof Float32Array)) return;
    const buf = values.buffer as ArrayBuffer;
    const o = this.owner.get(buf);
    if (o === undefined) return; // not ours
    if (o === BufferPool.PENDING && values.byteOffset === 0 && values.byteLength === buf.byteLength)
      this.owner.set(buf, dataId);
    else this.escaped.add(buf); // a second tensor or a view over the same memory
  }

  /** The values were handed out (readSync): whoever got them may keep them. */
  escape(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.escaped.add(values.buffer as ArrayBuffer);
  }

  /** The tensor `dataId` over `values` was freed: recycle its buffer if nothing else can see it. */
  released(values: unknown, dataId: object): void {
    if (!(values instanceof Float32Array)) return;
    const buf = values.buffer as ArrayBuffer;
    if (this.owner.get(buf) !== dataId || this.escaped.has(buf)) return;
    this.owner.delete(buf);
    if (this.pooledBytes + buf.byteLength > this.maxPooledBytes) return;
    const list = this.free.get(values.length) ?? [];
    list.push(values);
    this.free.set(values.length, list);
    this.pooledBytes += buf.byteLength;
  }

  clear(): void {
    this.free.clear();
    this.pooledBytes = 0;
  }
}

export const pool = new BufferPool(Number(process.env['TALKING_HEADS_POOL_MB'] ?? 4096) * 2 ** 20);
export const alloc = (n: number) => pool.take(n);

/** How the native backend's buffer pool is doing (doctor, benchmarks, tests). */
export function nativePoolStats(): { pooledMB: number; reused: number; allocated: number } {
  return { pooledMB: pool.pooledBytes / 2 ** 20, reused: pool.reused, allocated: pool.allocated };
}
