/**
 * Runs calls one at a time, in order (an ONNX session's preallocated input is rewritten by each call), and
 * tells when everything queued has finished. A failed call does not stop the ones after it.
 */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every call queued so far has settled. */
  async drained(): Promise<void> {
    await this.#tail;
  }
}
