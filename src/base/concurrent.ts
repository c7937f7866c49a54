// Work over a list with a bounded number in flight: the checks' sessions, the baseline's, the store check's reads.

/** Run `fn` over `items` with at most `concurrency` in flight, preserving result order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, fn: (item: T, worker: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async (_, worker) => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, worker);
    }
  });
  await Promise.all(workers);
  return results;
}
