import { describe, expect, it } from 'vitest';
import { Chain } from '../../../src/jobs/chain.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** A step that records its start and end, and finishes when released. */
function gated(log: string[], name: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const step = async () => {
    log.push(`start ${name}`);
    await gate;
    log.push(`end ${name}`);
  };
  return { step, release };
}

describe('Chain', () => {
  it('runs steps one at a time in the order added, and add waits while `depth` are unfinished', async () => {
    const log: string[] = [];
    const chain = new Chain(2);
    const [a, b, c] = [gated(log, 'a'), gated(log, 'b'), gated(log, 'c')];
    await chain.add(a.step);
    await chain.add(b.step);
    let added = false;
    const third = chain.add(c.step).then(() => (added = true));
    await tick();
    expect(log).toEqual(['start a']); // b waits for a; c's add waits for room
    expect(added).toBe(false);
    a.release();
    await third;
    expect(added).toBe(true);
    expect(log).toEqual(['start a', 'end a', 'start b']);
    b.release();
    c.release();
    await chain.drain();
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('fails every later step after the first failure, and throws it from add or drain', async () => {
    const ran: string[] = [];
    const chain = new Chain(3);
    await chain.add(async () => void ran.push('a'));
    await chain.add(async () => {
      ran.push('b');
      throw new Error('b broke');
    });
    await chain.add(async () => void ran.push('c'));
    await expect(chain.drain()).rejects.toThrow('b broke');
    expect(ran).toEqual(['a', 'b']);

    const full = new Chain(1);
    await full.add(async () => {
      throw new Error('first');
    });
    await expect(full.add(async () => undefined)).rejects.toThrow('first'); // the wait for room sees it
  });

  it('settle waits for the running step, failed or not, and throws nothing', async () => {
    const log: string[] = [];
    const chain = new Chain(2);
    const a = gated(log, 'a');
    await chain.add(a.step);
    await chain.add(async () => {
      throw new Error('x');
    });
    const settled = chain.settle();
    await tick();
    expect(log).toEqual(['start a']);
    a.release();
    await expect(settled).resolves.toBeUndefined();
    expect(log).toEqual(['start a', 'end a']);
  });

  it('refuses a depth below one', () => {
    expect(() => new Chain(0)).toThrow(RangeError);
  });
});
