/**
 * Runs an async iterable ahead of its consumer by up to `n` items, so a producer that waits on
 * another thread (face detection in a worker) works while the consumer computes. Memory stays
 * bounded by `n`. Errors surface at the consumer, in order.
 */
export async function* prefetch<T>(source: AsyncIterable<T>, n: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  const fill = () => {
    while (queue.length < n) queue.push(it.next());
  };
  try {
    fill();
    for (;;) {
      const r = await queue.shift()!;
      if (r.done) return;
      fill();
      yield r.value;
    }
  } finally {
    for (const p of queue) p.catch(() => {}); // read ahead but never consumed
    await it.return?.();
  }
}
