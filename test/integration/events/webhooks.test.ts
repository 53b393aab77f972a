/**
 * Webhooks on the real server with real receivers (node:http on loopback, so the server runs with
 * WEBHOOKS_ALLOW_PRIVATE=true; a second server without it refuses them). Events come from real work: a job,
 * a live session streamed by the repository's client, a balance that runs low. Retries run on a short schedule
 * (WEBHOOKS_RETRY_BASE_MS=10: 10 ms, 40 ms, 160 ms, 0.6 s, 2.6 s, 10 s, each ±25 %, so at most
 * 17 s for all seven attempts) through the real queue.
 */
import { Webhook } from 'standardwebhooks';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../../src/live/client/stream.js';
import { createDataset, inState, makeImages, upload, waitForJob } from '../../helpers/datasets.js';
import { makeFaceClip } from '../../helpers/media.js';
import { ensureModels } from '../../helpers/onnx-setup.js';
import { startReceiver, type Receiver } from '../../helpers/receiver.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';
import { openSocket } from '../../helpers/ws.js';

let s: TestServer;
const receivers: Receiver[] = [];

beforeAll(async () => {
  await ensureModels();
  s = await startTestServer({ PRELOAD_MODELS: 'true', WEBHOOKS_ALLOW_PRIVATE: 'true', WEBHOOKS_RETRY_BASE_MS: '10', WEBHOOKS_DISABLE_AFTER: '1', INITIAL_TOKENS: '100' });
}, 120_000);
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await s?.close();
});

async function receiver(answer?: Receiver['answer']): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

interface Delivery {
  id: string;
  event: string;
  status: string;
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
}

async function subscribe(token: string, url: string, events: string[]): Promise<{ id: string; secret: string }> {
  const res = await s.call('POST', '/api/v1/webhooks', { token, body: { url, events, description: 'test' } });
  expect(res.status, await res.clone().text()).toBe(201);
  const j = (await res.json()) as { webhook: { id: string }; secret: string };
  return { id: j.webhook.id, secret: j.secret };
}

const deliveries = async (token: string, id: string): Promise<Delivery[]> =>
  ((await (await s.call('GET', `/api/v1/webhooks/${id}/deliveries`, { token })).json()) as { deliveries: Delivery[] }).deliveries;

const bodyOf = (r: { body: string }): { type: string; timestamp: string; data: Record<string, unknown> } => JSON.parse(r.body) as never;

describe('webhooks: bad input', () => {
  it('400 for a URL that is not http(s), too long or private (without WEBHOOKS_ALLOW_PRIVATE), unknown events, and the 21st webhook', async () => {
    const { token } = await signUp(s);
    const bad = async (body: unknown, re: RegExp, server = s): Promise<void> => {
      const res = await server.call('POST', '/api/v1/webhooks', { token: server === s ? token : (await signUp(server)).token, body });
      expect(res.status).toBe(400);
      const e = (await res.json()) as { error: { code: string; message: string } };
      expect(e.error.code).toBe('VALIDATION_FAILED');
      expect(e.error.message).toMatch(re);
    };
    await bad({ url: 'ftp://example.com/x', events: ['job.completed'] }, /http/);
    await bad({ url: 'https://example.com/' + 'x'.repeat(2048), events: ['job.completed'] }, /2048/);
    await bad({ url: 'https://example.com/', events: ['job.exploded'] }, /Unknown event "job.exploded"/);
    await bad({ url: 'https://example.com/', events: [] }, /non-empty/);
    const strict = await startTestServer();
    try {
      for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'http://[::1]/', 'http://192.168.0.10/', 'http://169.254.169.254/']) {
        await bad({ url, events: ['job.completed'] }, /not a public address/, strict);
      }
    } finally {
      await strict.close();
    }
    const r = await receiver();
    for (let i = 0; i < 20; i++) await subscribe(token, `${r.url}?n=${i}`, ['job.completed']);
    await bad({ url: r.url, events: ['job.completed'] }, /20 webhooks/);
    const list = (await (await s.call('GET', '/api/v1/webhooks', { token })).json()) as { webhooks: unknown[] };
    expect(list.webhooks).toHaveLength(20);
    // Someone else's webhook is not found.
    const other = await signUp(s);
    const id = ((list.webhooks[0] as { id: string }).id);
    expect((await s.call('DELETE', `/api/v1/webhooks/${id}`, { token: other.token })).status).toBe(404);
    expect((await s.call('GET', `/api/v1/webhooks/${id}/deliveries`, { token: other.token })).status).toBe(404);
    expect((await s.call('DELETE', `/api/v1/webhooks/${id}`, { token })).status).toBe(204);
  }, 60_000);
});

describe('webhooks: deliveries', () => {
  it('a finished job is delivered signed, and the signature verifies with the secret', async () => {
    const { token } = await signUp(s);
    const r = await receiver();
    const hook = await subscribe(token, r.url, ['job.completed', 'job.failed', 'balance.low']);
    const ds = await createDataset(s, token);
    for (const img of await makeImages(2)) expect((await upload(s, token, ds.id, img.name, img.bytes)).status).toBe(201);
    const res = await s.call('POST', '/api/v1/jobs', { token, body: { datasetId: ds.id, model: 'blazeface' } });
    expect(res.status).toBe(202);
    const job = ((await res.json()) as { job: { id: string } }).job;
    await waitForJob(s, token, job.id, inState('completed'));
    const got = await r.until((x) => x.some((m) => bodyOf(m).type === 'job.completed'));
    const msg = got.find((m) => bodyOf(m).type === 'job.completed')!;
    // The signature verifies with the secret (the Standard Webhooks library, as a receiver would use it).
    expect(new Webhook(hook.secret).verify(msg.body, msg.headers as Record<string, string>)).toMatchObject({ type: 'job.completed', data: { job: { id: job.id, state: 'completed' } } });
    expect(msg.headers['webhook-id']).toMatch(/^msg_/);
    expect(msg.headers['content-type']).toBe('application/json');
    expect(Math.abs(Number(msg.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(bodyOf(msg).timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    await expect.poll(async () => (await deliveries(token, hook.id)).find((d) => d.event === 'job.completed')).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 200 });
    expect(got.filter((m) => bodyOf(m).type === 'job.completed')).toHaveLength(1);
  }, 120_000);

  it('balance.low goes out once when the balance falls below BALANCE_LOW_TOKENS, and again only after it was back above', async () => {
    const admin = { email: 'admin-low@example.com', password: 'admin password here' };
    const low = await startTestServer({ PRELOAD_MODELS: 'true', WEBHOOKS_ALLOW_PRIVATE: 'true', INITIAL_TOKENS: '10', BALANCE_LOW_TOKENS: '9', ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password });
    try {
      const { token, email } = await signUp(low);
      const adminToken = ((await (await low.call('POST', '/api/v1/auth/login', { body: admin })).json()) as { token: string }).token;
      const topUp = async (amount: number): Promise<void> => {
        expect((await low.call('POST', '/api/v1/admin/top-ups', { token: adminToken, body: { email, amount } })).status).toBe(200);
      };
      const r = await receiver();
      const res = await low.call('POST', '/api/v1/webhooks', { token, body: { url: r.url, events: ['balance.low'] } });
      expect(res.status).toBe(201);
      const images = await makeImages(2);
      const infer = async (): Promise<void> => {
        const out = await fetch(`${low.url}/api/v1/infer?model=blazeface`, { method: 'POST', body: images[0]!.bytes, headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' } });
        expect(out.status).toBe(200);
      };
      await infer(); // 10 -> 9.25: above 9
      await new Promise((res2) => setTimeout(res2, 500));
      expect(r.received).toHaveLength(0);
      await infer(); // 8.5: below
      await infer(); // 7.75: still below, no second event
      const got = await r.until((x) => x.length >= 1);
      await new Promise((res2) => setTimeout(res2, 1000));
      expect(got).toHaveLength(1);
      expect(bodyOf(got[0]!)).toMatchObject({ type: 'balance.low', data: { balance: 8.5, threshold: 9 } });
      await topUp(0.5); // 8.25: still below, nothing new
      await new Promise((res2) => setTimeout(res2, 500));
      expect(r.received).toHaveLength(1);
      await topUp(2); // 10.25: above again, the mark is cleared
      await infer(); // 9.5
      await infer(); // 8.75: below again: a second event
      const again = await r.until((x) => x.length >= 2);
      expect(bodyOf(again[1]!)).toMatchObject({ type: 'balance.low', data: { balance: 8.75 } });
      expect(again[1]!.headers['webhook-id']).not.toBe(again[0]!.headers['webhook-id']);
    } finally {
      await low.close();
    }
  }, 120_000);

  it('a receiver that answers 500 twice then 200 gets the event three times with the same webhook-id; one that does not answer in 5 s is retried', async () => {
    const { token, user } = await signUp(s);
    const flaky = await receiver((n) => (n < 2 ? 500 : 200));
    const slow = await receiver((n) => (n === 0 ? 'hang' : 204));
    const a = await subscribe(token, flaky.url, ['balance.low']);
    const b = await subscribe(token, slow.url, ['balance.low']);
    s.app.deps.webhooks.emit(user.id, 'balance.low', { balance: 1, threshold: 5 }); // the emitter, as the ledger calls it
    const three = await flaky.until((x) => x.length >= 3);
    expect(new Set(three.map((m) => m.headers['webhook-id'])).size).toBe(1);
    expect(three.map((m) => m.body)).toEqual([three[0]!.body, three[0]!.body, three[0]!.body]);
    for (const m of three) expect(() => new Webhook(a.secret).verify(m.body, m.headers as Record<string, string>)).not.toThrow();
    // Backoff: each wait is at least its delay (10 ms then 40 ms, each -25% at worst, less a millisecond of clock
    // rounding). Not "the second wait is longer than the first": the queue's own latency, added to both, can make the
    // first longer on a busy machine (it did, once, in CI).
    expect(three[1]!.at - three[0]!.at).toBeGreaterThanOrEqual(6);
    expect(three[2]!.at - three[1]!.at).toBeGreaterThanOrEqual(29);
    await expect.poll(async () => (await deliveries(token, a.id))[0]).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 200 });
    const two = await slow.until((x) => x.length >= 2, 20_000);
    expect(two[1]!.headers['webhook-id']).toBe(two[0]!.headers['webhook-id']);
    expect(two[1]!.at - two[0]!.at).toBeGreaterThanOrEqual(5000);
    await expect.poll(async () => (await deliveries(token, b.id))[0]).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 204 });
    await slow.until((x) => x.length >= 2);
  }, 60_000);

  it('a webhook that fails every attempt is disabled and its owner told; turned on again, a manual retry delivers with the same webhook-id', async () => {
    const { token, user } = await signUp(s);
    let up = false;
    const down = await receiver(() => (up ? 200 : 503));
    const hook = await subscribe(token, down.url, ['balance.low']);
    const ws = await openSocket(s.url, token);
    s.app.deps.webhooks.emit(user.id, 'balance.low', { balance: 1, threshold: 5 });
    const notice = await ws.next((m) => m['type'] === 'webhook.disabled', 60_000);
    expect(notice).toMatchObject({ webhookId: hook.id, url: down.url, reason: expect.stringMatching(/failed every attempt.*answered 503/) as unknown });
    expect(down.received).toHaveLength(7);
    const [d] = await deliveries(token, hook.id);
    expect(d).toMatchObject({ status: 'failed', attempts: 7, lastStatusCode: 503 });
    const list = (await (await s.call('GET', '/api/v1/webhooks', { token })).json()) as { webhooks: { id: string; enabled: boolean; disabledReason?: string }[] };
    expect(list.webhooks.find((w) => w.id === hook.id)).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/Disabled after 1 deliveries/) as unknown });
    // Disabled: new events are not delivered, and a retry is refused until it is on again.
    expect((await s.call('POST', `/api/v1/webhooks/${hook.id}/deliveries/${d!.id}/retry`, { token })).status).toBe(409);
    up = true;
    const on = await s.call('PATCH', `/api/v1/webhooks/${hook.id}`, { token, body: { enabled: true } });
    expect(on.status).toBe(200);
    expect(((await on.json()) as { webhook: { enabled: boolean } }).webhook.enabled).toBe(true);
    expect((await s.call('POST', `/api/v1/webhooks/${hook.id}/deliveries/${d!.id}/retry`, { token })).status).toBe(202);
    const got = await down.until((x) => x.length >= 8);
    expect(got[7]!.headers['webhook-id']).toBe(d!.id);
    expect(got[7]!.headers['webhook-id']).toBe(got[0]!.headers['webhook-id']);
    await expect.poll(async () => (await deliveries(token, hook.id))[0]).toMatchObject({ status: 'delivered', lastStatusCode: 200 });
    expect((await s.call('POST', `/api/v1/webhooks/${hook.id}/deliveries/msg_nope/retry`, { token })).status).toBe(404);
    ws.close();
  }, 90_000);

  it('a live session sends live.track once per track, live.zone on entering, and live.ended with the saved session', async () => {
    const { token } = await signUp(s);
    const r = await receiver();
    await subscribe(token, r.url, ['live.track', 'live.zone', 'live.ended']);
    const clip = path.join(s.dataDir, 'face-events.mp4');
    await makeFaceClip(clip, { seconds: 3, width: 320, height: 240, fps: 15 });
    const zone = { name: 'all', polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], mode: 'include' };
    const sum = await streamFile({ server: s.url, token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', pipeline: { zones: [zone] } as never, record: false });
    const got = await r.until((x) => x.some((m) => bodyOf(m).type === 'live.ended'));
    const events = got.map(bodyOf);
    const started = sum.events.filter((e) => e.type === 'track' && e.event === 'started');
    const tracks = events.filter((e) => e.type === 'live.track');
    expect(tracks.length).toBeGreaterThan(0);
    expect(tracks.map((e) => e.data['trackId']).sort()).toEqual(started.map((e) => e.trackId).sort());
    expect(tracks[0]!.data).toMatchObject({ sessionId: sum.sessionId, label: 'face' });
    const zones = events.filter((e) => e.type === 'live.zone');
    expect(zones.some((e) => e.data['event'] === 'entered' && e.data['zone'] === 'all')).toBe(true);
    const ended = events.filter((e) => e.type === 'live.ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]!.data['session']).toMatchObject({ id: sum.sessionId, state: 'ended', framesProcessed: sum.ended?.stats.framesProcessed });
  }, 120_000);
});
