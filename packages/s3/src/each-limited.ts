/*
 * Bounded parallelism for per-object work (uploads, copies, deletes): `fn` runs over `items`, at most
 * `limit` at a time. The first failure stops new work from starting; the promise rejects with it once
 * the calls already started have settled (so no request is left running behind the caller's back).
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, position: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const position = next++;
      try {
        await fn(items[position]!, position);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.err;
}
