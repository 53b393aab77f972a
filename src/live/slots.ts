/**
 * Places for live sessions: at most `perUser` running (or starting) per user, and at most `total` in all. One
 * process counts its own (LocalSlots); servers that share Redis count together (cluster/slots.ts). A slot is
 * taken before anything else is done for a start, and given back when the start fails or the session ends.
 */
import { AppError } from '../errors.js';

export interface Slot {
  release(): Promise<void>;
}

export interface SessionSlots {
  /** Takes a place for one of `userId`'s sessions: CONFLICT at the per-user limit, UNAVAILABLE when all are taken. */
  acquire(userId: string): Promise<Slot>;
}

export const userLimitReached = (perUser: number): AppError =>
  new AppError('CONFLICT', `You already have ${perUser} live sessions running; stop one first.`);

export const totalLimitReached = (total: number): AppError =>
  new AppError('UNAVAILABLE', `All ${total} live sessions this service runs at once are taken; try again shortly.`, { retryAfterS: 10 });

export class LocalSlots implements SessionSlots {
  readonly #perUser = new Map<string, number>();
  #total = 0;

  constructor(
    private readonly perUser: number,
    private readonly total: number = Infinity,
  ) {}

  async acquire(userId: string): Promise<Slot> {
    const n = this.#perUser.get(userId) ?? 0;
    if (n >= this.perUser) throw userLimitReached(this.perUser);
    if (this.#total >= this.total) throw totalLimitReached(this.total);
    this.#perUser.set(userId, n + 1);
    this.#total++;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.#total--;
        const m = (this.#perUser.get(userId) ?? 1) - 1;
        if (m > 0) this.#perUser.set(userId, m);
        else this.#perUser.delete(userId);
      },
    };
  }
}
