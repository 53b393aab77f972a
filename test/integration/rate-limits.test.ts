/**
 * Rate limits on costly actions, per user and per client address: uploads, job submissions and live session
 * starts (WHIP and the WebSocket's live.offer) answer 429 RATE_LIMITED with Retry-After, before any work is
 * done: nothing stored, nothing charged, nothing queued.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, makeImages, storedFiles, upload } from '../helpers/datasets.js';
import { signUp, startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let images: { name: string; bytes: Buffer }[];

beforeAll(async () => {
  // Per user per minute; per address three times as many (every test client is 127.0.0.1).
  s = await startTestServer({ RATE_LIMIT_UPLOADS: '2', RATE_LIMIT_JOBS: '2', RATE_LIMIT_LIVE: '1', INITIAL_TOKENS: '100' });
  images = await makeImages(2);
});
afterAll(() => s?.close());

async function expect429(res: Response): Promise<void> {
  expect(res.status).toBe(429);
  const retry = Number(res.headers.get('retry-after'));
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(60);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('RATE_LIMITED');
  expect(body.error.message).toMatch(/^Too many .+ requests; try again in \d+ s\.$/);
}

async function metric(name: string): Promise<number> {
  const text = await (await s.call('GET', '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('rate limits', () => {
  it('uploads: per user, then per address; a refused upload stores nothing', async () => {
    const limitedBefore = await metric('lookout_rate_limited_total{limit="upload"}');
    const a = await signUp(s);
    const ds = await createDataset(s, a.token);
    for (const img of images) expect((await upload(s, a.token, ds.id, img.name, img.bytes)).status).toBe(201);
    const stored = await storedFiles(s.dataDir);
    await expect429(await upload(s, a.token, ds.id, 'third.jpg', images[0]!.bytes));
    expect(await storedFiles(s.dataDir)).toEqual(stored);

    // The address has made 3 attempts of its 6; another user gets 2 more, a third user 1, then the address is out.
    const b = await signUp(s);
    const dsB = await createDataset(s, b.token);
    for (const img of images) expect((await upload(s, b.token, dsB.id, img.name, img.bytes)).status).toBe(201);
    const c = await signUp(s);
    const dsC = await createDataset(s, c.token);
    expect((await upload(s, c.token, dsC.id, images[0]!.name, images[0]!.bytes)).status).toBe(201);
    await expect429(await upload(s, c.token, dsC.id, images[1]!.name, images[1]!.bytes)); // c's 2nd: the address's 7th
    expect(await metric('lookout_rate_limited_total{limit="upload"}')).toBe(limitedBefore + 2);
  });

  it('job submissions: the third in a minute is refused, nothing charged or queued', async () => {
    const u = await signUp(s);
    // An empty dataset (this address has no uploads left this minute): each submission is refused by
    // validation, but counts as an attempt, and the third is refused by the limit before anything else.
    const ds = await createDataset(s, u.token);
    const submit = (): Promise<Response> => s.call('POST', '/api/v1/jobs', { token: u.token, body: { datasetId: ds.id } });
    expect((await submit()).status).toBe(400); // empty dataset
    expect((await submit()).status).toBe(400);
    await expect429(await submit());
    const jobs = (await (await s.call('GET', '/api/v1/jobs', { token: u.token })).json()) as { jobs: unknown[] };
    expect(jobs.jobs).toEqual([]);
    const { balance } = (await (await s.call('GET', '/api/v1/tokens', { token: u.token })).json()) as { balance: number };
    expect(balance).toBe(100);
  });

  it('live starts: WHIP and the WebSocket share one limit; the socket stays open', async () => {
    const u = await signUp(s);
    const whip = (): Promise<Response> =>
      fetch(`${s.url}/api/v1/whip`, { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
    expect((await whip()).status).toBe(400); // not an offer, but an attempt
    await expect429(await whip());

    const ws = new WebSocket(s.url.replace('http', 'ws') + '/api/v1/ws', { headers: { authorization: `Bearer ${u.token}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const reply = new Promise<Record<string, unknown>>((resolve) =>
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        if (m['type'] === 'error') resolve(m);
      }),
    );
    ws.send(JSON.stringify({ type: 'live.offer', sdp: 'v=0\r\n' }));
    const err = await reply;
    expect(err).toMatchObject({ type: 'error', code: 'RATE_LIMITED', re: 'live.offer' });
    expect(err['retryAfterS']).toBeGreaterThanOrEqual(1);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });
});
