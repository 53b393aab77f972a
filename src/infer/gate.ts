/**
 * How many one-call inference requests run at once (INFER_CONCURRENCY). They share the detectors with live
 * sessions, whose frames have deadlines: past the limit a request is turned away at once (503 with Retry-After)
 * rather than queued behind the others.
 */
import { AppError } from '../errors.js';

export class InferGate {
  #running = 0;

  constructor(readonly limit: number) {}

  get running(): number {
    return this.#running;
  }

  /** Takes a place, or throws UNAVAILABLE; call the returned function once done. */
  enter(): () => void {
    if (this.#running >= this.limit) {
      throw new AppError('UNAVAILABLE', `The server is running its maximum of ${this.limit} inference requests; try again in a second.`, { retryAfterS: 1 });
    }
    this.#running++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.#running--;
    };
  }
}
