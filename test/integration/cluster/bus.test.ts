/**
 * The cluster bus on the machine's Redis: two nodes (two buses, each with its own two connections, in this
 * process) ask each other over pub/sub.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterBus, Undelivered } from '../../../src/cluster/bus.js';
import { AppError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { REDIS_URL } from '../../helpers/cluster.js';

const ns = `lookout:cluster:bus-test-${randomBytes(4).toString('hex')}`;
const logger = createLogger('silent');
let a: ClusterBus;
let b: ClusterBus;

beforeAll(async () => {
  a = new ClusterBus(REDIS_URL, ns, 'node-a', logger);
  b = new ClusterBus(REDIS_URL, ns, 'node-b', logger);
  await Promise.all([a.start(), b.start()]);
  a.handle('echo', async (body, from) => ({ body, from }));
  a.handle('refuse', async () => {
    throw new AppError('NOT_FOUND', 'Live session not found (or it has ended).', { hint: 'x' });
  });
  a.handle('slow', () => new Promise((r) => setTimeout(() => r('late'), 300)));
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

describe('cluster bus', () => {
  it('a request gets the handler\'s value, and the caller is named', async () => {
    expect(await b.request('node-a', 'echo', { n: 1 })).toEqual({ body: { n: 1 }, from: 'node-b' });
  });

  it('an error thrown by the handler comes back as the same AppError', async () => {
    const err = await b.request('node-a', 'refuse', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'NOT_FOUND', message: 'Live session not found (or it has ended).', details: { hint: 'x' } });
  });

  it('a node nobody listens for: Undelivered (UNAVAILABLE) at once; no answer in time: UNAVAILABLE', async () => {
    const t0 = performance.now();
    const gone = await b.request('node-gone', 'echo', {}).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(Undelivered);
    expect(gone).toMatchObject({ code: 'UNAVAILABLE' });
    expect(performance.now() - t0).toBeLessThan(2000); // not the 5 s timeout
    const late = await b.request('node-a', 'slow', {}, 50).catch((e: unknown) => e);
    expect(late).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/did not answer in time/) as unknown });
    expect(late).not.toBeInstanceOf(Undelivered);
  });

  it('an error answer read before Redis acknowledges the request is not an unhandled rejection', async () => {
    // The acknowledgement of the PUBLISH comes on the command connection, the answer on the subscriber one; under
    // load the answer can be read first. Here the command connection stops reading until the answer is in. An
    // unhandled rejection would end a server (Node's default).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    const commands = (b.redis as unknown as { stream: import('node:net').Socket }).stream;
    try {
      commands.pause();
      const answer = b.request('node-a', 'refuse', {}).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 200)); // a's answer arrives on b's subscriber connection meanwhile
      commands.resume();
      expect(await answer).toMatchObject({ code: 'NOT_FOUND' });
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      commands.resume();
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
