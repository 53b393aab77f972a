/**
 * Frame buffers of one size in shared memory, handed out and given back for reuse. A video job decodes,
 * detects, draws and encodes hundreds of 640×480 frames a second's worth at a time: a fresh 0.9 MB buffer per
 * frame (and a copy of it for the model's thread) kept V8's collector busy for a tenth of the job. Shared memory
 * lets the model's worker thread read a frame without a copy; a pooled buffer is reused once ffmpeg has it.
 */
export class FramePool {
  readonly #free: Uint8Array[] = [];
  #made = 0;

  constructor(
    readonly size: number,
    /** Buffers kept for reuse at most; more may be out at once, and those are left to the collector. */
    private readonly keep = 32,
  ) {}

  /** A buffer of `size` bytes (its old contents, when reused). */
  take(): Uint8Array {
    const b = this.#free.pop();
    if (b) return b;
    this.#made++;
    return new Uint8Array(new SharedArrayBuffer(this.size));
  }

  /** Gives a buffer back: nothing may read or write it afterwards. */
  give(b: Uint8Array): void {
    if (b.byteLength === this.size && b.buffer instanceof SharedArrayBuffer && this.#free.length < this.keep) this.#free.push(b);
  }

  /** Buffers allocated so far. */
  get made(): number {
    return this.#made;
  }
}
