/**
 * Pays for a live session's frames without a database write per frame. Tokens are reserved ahead in
 * blocks (a couple of seconds of frames); each processed frame spends one frame's worth of the local
 * credit, and classified crops (when they have a price) spend theirs from the same credit; about every second
 * `settle()` charges what was spent since the last settlement (one charge row per settlement); `finish()`
 * settles and refunds whatever is still held. Dropped frames never touch the credit, so they are free. When the
 * balance cannot cover even one more frame the session is told it has run out.
 */
import { AppError, isAppError } from '../errors.js';
import type { Db, DbOrTx } from '../db/schema.js';
import { chargeInTx, getBalance, refund, reserve } from '../tokens/ledger.js';

/** What one frame took from the credit: its price, and its crops' when they have one. */
export interface FrameTicket {
  milli: number;
}

/** Another server ended the session (its server was taken for lost) and settled it: this one must not write. */
export class SessionTakenOver extends Error {
  override readonly name = 'SessionTakenOver';
  constructor() {
    super('another server ended this live session as lost');
  }
}

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
  /** Taken by a settlement that has not committed yet. */
  #pendingMilli = 0;
  #chargedMilli = 0;
  #reserves = 0;
  #settlements = 0;
  #topUp: Promise<void> | undefined;
  #outOfTokens = false;
  #settling: Promise<void> = Promise.resolve();
  #finished: Promise<void> | undefined;
  #abandoned: Promise<void> | undefined;

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

  /** Tokens spent on processed frames so far (charged or about to be), in milli-tokens. */
  get spentMilli(): number {
    return this.#chargedMilli + this.#pendingMilli + this.#unsettledMilli;
  }

  /** True once the balance could not fund another block and the credit is used up. */
  get exhausted(): boolean {
    return this.#outOfTokens && this.#creditMilli < this.#o.priceMilli;
  }

  /**
   * Takes one frame of credit for a frame about to be processed; undefined when there is none (yet). The frame's
   * ticket is settled only once the frame is done (`confirm`), or given back (`giveBack`): a settlement never
   * charges for a frame its session has not counted as processed. Starts a top-up when running low.
   */
  tryConsume(): FrameTicket | undefined {
    if (!this.#take(this.#o.priceMilli)) return undefined;
    return { milli: this.#o.priceMilli };
  }

  /**
   * Spends `milli` of credit (a frame's classified crops); false, spending nothing, when there is not enough
   * (yet). With `ticket` it is paid with that frame; without, at the next settlement.
   */
  trySpend(milli: number, ticket?: FrameTicket): boolean {
    if (!this.#take(milli)) return false;
    if (ticket) {
      ticket.milli += milli;
    } else this.#unsettledMilli += milli;
    return true;
  }

  /** The ticket's frame was processed: what it took is charged at the next settlement. */
  confirm(ticket: FrameTicket): void {
    this.#unsettledMilli += ticket.milli;
    ticket.milli = 0;
  }

  /** The ticket's frame was not processed after all: what it took goes back to the credit. */
  giveBack(ticket: FrameTicket): void {
    this.#creditMilli += ticket.milli;
    ticket.milli = 0;
  }

  #take(milli: number): boolean {
    if (this.#finished) return false;
    if (this.#creditMilli <= (this.#o.blockFrames / 2) * this.#o.priceMilli) this.#startTopUp();
    if (this.#creditMilli < milli) return false;
    this.#creditMilli -= milli;
    return true;
  }

  /**
   * Charges what was spent since the last settlement (one charge per call, none when idle). The amount is taken
   * now, so a caller that reads its counters in the same tick can record them with `record`, in the charge's
   * own transaction: the session's row and the ledger then always agree. `record` gets the total charged once
   * this commits and answers false when the row is no longer this server's to write (another server ended the
   * session as lost): then nothing is charged and the settlement throws `SessionTakenOver`.
   */
  settle(record?: (tx: DbOrTx, chargedMilli: number) => Promise<boolean>): Promise<void> {
    const amountMilli = this.#unsettledMilli;
    this.#unsettledMilli = 0;
    this.#pendingMilli += amountMilli;
    const key = `live:${this.#o.sessionId}:settle:${++this.#settlements}`;
    const run = async (): Promise<void> => {
      try {
        if ((amountMilli === 0 && !record) || !this.#reservationId) {
          this.#unsettledMilli += amountMilli; // nothing held yet: nothing was spent either
          return;
        }
        const reservationId = this.#reservationId;
        const charged = await this.#db.transaction().execute(async (tx) => {
          const ok = amountMilli > 0 ? await chargeInTx(tx, { reservationId, amountMilli, key }) : false;
          if (record && !(await record(tx, this.#chargedMilli + amountMilli))) throw new SessionTakenOver();
          return ok;
        });
        this.#chargedMilli += amountMilli;
        if (charged) this.#o.onCharged?.(amountMilli);
      } catch (err) {
        if (!(err instanceof SessionTakenOver)) this.#unsettledMilli += amountMilli; // charged with the next settlement
        throw err;
      } finally {
        this.#pendingMilli -= amountMilli;
      }
    };
    this.#settling = this.#settling.catch(() => undefined).then(run);
    return this.#settling;
  }

  /** Final settlement and refund of the unspent hold. Safe to call twice. */
  finish(record?: (tx: DbOrTx, chargedMilli: number) => Promise<boolean>): Promise<void> {
    return (this.#finished ??= (async () => {
      await this.#topUp?.catch(() => undefined);
      await this.settle(record);
      if (this.#reservationId) await refund(this.#db, { reservationId: this.#reservationId, key: `live:${this.#o.sessionId}:refund` });
    })());
  }

  /**
   * After another server ended this session as lost (and settled it): charges nothing more and gives back what
   * this server reserved after that settlement, under a key of its own (the first refund's key is used up).
   */
  abandon(): Promise<void> {
    this.#finished ??= Promise.resolve(); // no more spending
    return (this.#abandoned ??= (async () => {
      await this.#topUp?.catch(() => undefined);
      await this.#settling.catch(() => undefined);
      if (this.#reservationId) await refund(this.#db, { reservationId: this.#reservationId, key: `live:${this.#o.sessionId}:refund:late` });
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
