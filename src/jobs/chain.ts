/**
 * Steps run one after another, in the order they were added, with at most `depth` added and not yet finished:
 * `add` waits for room, so whoever feeds the chain slows to its pace. The first failure fails every later step
 * (they do not run) and is thrown by the next `add` or by `drain`; nothing is left as an unhandled rejection.
 */
export class Chain {
  #tail: Promise<void> = Promise.resolve();
  readonly #waiting: Promise<void>[] = [];

  constructor(private readonly depth: number) {
    if (!(depth >= 1)) throw new RangeError(`A chain needs a depth of at least 1, not ${depth}.`);
  }

  /** Queues `step` after the steps before it; resolves once it is queued (when fewer than `depth` are waiting). */
  async add(step: () => Promise<void>): Promise<void> {
    this.#tail = this.#tail.then(step);
    this.#tail.catch(() => undefined); // handled when awaited below or in drain/settle
    this.#waiting.push(this.#tail);
    while (this.#waiting.length > this.depth) await this.#waiting.shift();
  }

  /** Waits for every queued step; throws the first failure. */
  async drain(): Promise<void> {
    while (this.#waiting.length) await this.#waiting.shift();
  }

  /** Waits for every queued step to end, failed or not. */
  async settle(): Promise<void> {
    await this.#tail.catch(() => undefined);
    this.#waiting.length = 0;
  }
}
