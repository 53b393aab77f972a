/**
 * Pays for a live session's frames without a database write per frame. Tokens are reserved ahead in
 * blocks (a couple of seconds of frames); each processed frame spends one frame's worth of the local
 * credit, and classified crops (when they have a price) spend theirs from the same credit; about every second
 * `settle()` charges what was spent since the last settlement (one charge row per settlement); `finish()`
 * settles and refunds whatever is still held. Dropped frames never touch the credit, so they are free. When the
 * balance cannot cover even one more frame the session is told it has run out.
 */
import { AppError, isAppError } from '../errors.js';
import type { Db } from '../db/schema.js';
import { charge, getBalance, refund, reserve } from '../tokens/ledger.js';

export interface LiveBillingOptions {
  readonly userId: string;
  readonly sessionId: string;
  readonly priceMilli: number;
  /** Frames reserved per block (default 60: two seconds at 30 fps). */
  readonly blockFrames?: number;
  /** New credit arrived (the session may have a frame waiting for it). */
  readonly onCredit?: () => void;
  readonly onError?: (err: unknown) => void;
  /** Told of every charge that went through (milli-tokens): for metrics. */
  readonly onCharged?: (amountMilli: number) => void;
}

export class LiveBilling {
  readonly #db: Db;
  readonly #o: Required<Omit<LiveBillingOptions, 'onCredit' | 'onError' | 'onCharged'>> & LiveBillingOptions;
  #reservationId: string | undefined;
  /** Local credit and spending not yet charged, in milli-tokens. */
  #creditMilli = 0;
  #unsettledMilli = 0;
  #chargedMilli = 0;
  #reserves = 0;
  #settlements = 0;
  #topUp: Promise<void> | undefined;
  #outOfTokens = false;
  #settling: Promise<void> = Promise.resolve();
  #finished: Promise<void> | undefined;

  constructor(db: Db, opts: LiveBillingOptions) {
    this.#db = db;
    this.#o = { blockFrames: 60, ...opts };
  }

  /** Reserves the first block; throws INSUFFICIENT_TOKENS (nothing held) when not even one frame is affordable. */
  async start(): Promise<void> {
    await this.#reserveBlock();
    if (this.#creditMilli < this.#o.priceMilli) {
      throw new AppError('INSUFFICIENT_TOKENS', 'Your balance does not cover a single live frame.');
    }
  }

  /** Tokens spent so far (charged or about to be), in milli-tokens. */
  get spentMilli(): number {
    return this.#chargedMilli + this.#unsettledMilli;
  }

  /** True once the balance could not fund another block and the credit is used up. */
  get exhausted(): boolean {
    return this.#outOfTokens && this.#creditMilli < this.#o.priceMilli;
  }

  /** Spends one frame of credit; false when there is none (yet). Starts a top-up when running low. */
  tryConsume(): boolean {
    return this.trySpend(this.#o.priceMilli);
  }

  /** Spends `milli` of credit (a frame, or its classified crops); false, spending nothing, when there is not enough (yet). */
  trySpend(milli: number): boolean {
    if (this.#finished) return false;
    if (this.#creditMilli <= (this.#o.blockFrames / 2) * this.#o.priceMilli) this.#startTopUp();
    if (this.#creditMilli < milli) return false;
    this.#creditMilli -= milli;
    this.#unsettledMilli += milli;
    return true;
  }

  /** Returns one frame of credit taken by `tryConsume` for a frame that was not processed after all. */
  giveBack(): void {
    const milli = Math.min(this.#o.priceMilli, this.#unsettledMilli);
    this.#unsettledMilli -= milli;
    this.#creditMilli += milli;
  }

  /** Charges the frames processed since the last settlement (one charge per call, none when idle). */
  settle(): Promise<void> {
    this.#settling = this.#settling.then(async () => {
      const amountMilli = this.#unsettledMilli;
      if (amountMilli === 0 || !this.#reservationId) return;
      const charged = await charge(this.#db, { reservationId: this.#reservationId, amountMilli, key: `live:${this.#o.sessionId}:settle:${++this.#settlements}` });
      this.#unsettledMilli -= amountMilli;
      this.#chargedMilli += amountMilli;
      if (charged) this.#o.onCharged?.(amountMilli);
    });
    return this.#settling;
  }

  /** Final settlement and refund of the unspent hold. Safe to call twice. */
  finish(): Promise<void> {
    return (this.#finished ??= (async () => {
      await this.#topUp?.catch(() => undefined);
      await this.settle();
      if (this.#reservationId) await refund(this.#db, { reservationId: this.#reservationId, key: `live:${this.#o.sessionId}:refund` });
    })());
  }

  get chargedMilli(): number {
    return this.#chargedMilli;
  }

  #startTopUp(): void {
    if (this.#topUp || this.#outOfTokens || this.#finished) return;
    this.#topUp = this.#reserveBlock()
      .then(() => this.#o.onCredit?.())
      .catch((err: unknown) => this.#o.onError?.(err))
      .finally(() => {
        this.#topUp = undefined;
      });
  }

  async #reserveBlock(): Promise<void> {
    const price = this.#o.priceMilli;
    let frames = this.#o.blockFrames;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const r = await reserve(this.#db, {
          userId: this.#o.userId,
          amountMilli: frames * price,
          ref: `live:${this.#o.sessionId}`,
          key: `live:${this.#o.sessionId}:reserve:${this.#reserves + 1}`,
          ...(this.#reservationId ? { reservationId: this.#reservationId } : {}),
        });
        this.#reserves++;
        this.#reservationId = r.id;
        this.#creditMilli += frames * price;
        return;
      } catch (err) {
        if (!isAppError(err) || err.code !== 'INSUFFICIENT_TOKENS') throw err;
        // Not a whole block left: take what the balance still covers, down to the last frame.
        frames = Math.min(frames - 1, Math.floor((await getBalance(this.#db, this.#o.userId)) / price));
        if (frames <= 0) break;
      }
    }
    this.#outOfTokens = true;
  }
}
