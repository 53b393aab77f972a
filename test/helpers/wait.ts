/** Waiting in tests for something another process (or a timer) does. */

/** Polls `f` every 100 ms until it returns a value (not undefined); throws `<what>: not within <ms> ms` after `ms`. */
export async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
