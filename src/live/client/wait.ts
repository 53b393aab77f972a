/** Small promise helpers for the live client: a deadline, an abort, an event as a promise. */

/** `p`, or a rejection with `onTimeout()` after `ms`, or with the signal's reason when it aborts first. */
export function deadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      done();
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      done();
      reject(onTimeout());
    }, ms);
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    p.then(
      (v) => {
        done();
        resolve(v);
      },
      (e: unknown) => {
        done();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when the signal aborts (never, without one). */
export function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export function abortReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new DOMException('The operation was aborted', 'AbortError');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A promise with its resolve function at hand; resolving twice keeps the first value. */
export interface Latch<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

export function latch<T>(): Latch<T> {
  let settle!: (v: T) => void;
  const promise = new Promise<T>((r) => (settle = r));
  return { promise, resolve: (value: T) => settle(value) };
}
