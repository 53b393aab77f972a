/**
 * API keys through the public API: created once, shown by prefix, used on REST, the WebSocket upgrade and WHIP,
 * unable to manage keys or the account, and dead at once when revoked (its open sockets closed too).
 */
import { RTCPeerConnection, useVP8 } from 'werift';
import { beforeAll, describe, expect, it } from 'vitest';
import { useLiveServer } from '../helpers/live.js';
import { signUp, type TestServer } from '../helpers/server.js';
import { closedWithin, openSocket } from '../helpers/ws.js';

const live = useLiveServer({ clipSeconds: 1, env: { LIVE_IDLE_TIMEOUT_S: '30' } });
let s: TestServer;
beforeAll(() => {
  ({ server: s } = live());
});

async function offer(): Promise<string> {
  const pc = new RTCPeerConnection({ iceServers: [], codecs: { video: [useVP8()] } });
  pc.addTransceiver('video', { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp;
  await pc.close();
  return sdp;
}

async function createKey(token: string, body: unknown = { name: 'camera 1' }): Promise<Response> {
  return s.call('POST', '/api/v1/api-keys', { token, body });
}

describe('API keys', () => {
  it('are shown once, listed by prefix, and work on REST, the WebSocket and WHIP until revoked', async () => {
    const u = await signUp(s);
    const res = await createKey(u.token);
    expect(res.status).toBe(201);
    const { apiKey, key } = (await res.json()) as { apiKey: { id: string; name: string; prefix: string }; key: string };
    expect(key).toMatch(/^lk_[a-z2-7]{32}$/);
    expect(apiKey).toMatchObject({ name: 'camera 1', prefix: key.slice(0, 9) });

    // REST, by Authorization and by X-API-Key.
    expect(((await (await s.call('GET', '/api/v1/me', { token: key })).json()) as { user: { id: string } }).user.id).toBe(u.user.id);
    expect((await s.call('GET', '/api/v1/tokens', { headers: { 'x-api-key': key } })).status).toBe(200);
    const listed = (await (await s.call('GET', '/api/v1/api-keys', { token: u.token })).json()) as { apiKeys: Record<string, unknown>[] };
    expect(listed.apiKeys).toHaveLength(1);
    expect(listed.apiKeys[0]).toMatchObject({ id: apiKey.id, prefix: apiKey.prefix, lastUsedAt: expect.any(String) as unknown });
    expect(JSON.stringify(listed)).not.toContain(key);

    // The WebSocket upgrade and WHIP.
    const ws = await openSocket(s.url, key);
    const whip = await fetch(`${s.url}/api/v1/whip?model=blazeface&record=false`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/sdp' }, body: await offer() });
    expect(whip.status).toBe(201);
    const location = whip.headers.get('location')!;

    // Revoked: at once, everywhere.
    expect((await s.call('DELETE', `/api/v1/api-keys/${apiKey.id}`, { token: u.token })).status).toBe(204);
    expect((await closedWithin(ws, 5000)).code).toBe(1008);
    expect((await s.call('GET', '/api/v1/me', { token: key })).status).toBe(401);
    await expect(openSocket(s.url, key)).rejects.toThrow(/401/);
    const again = await fetch(`${s.url}/api/v1/whip?model=blazeface`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/sdp' }, body: await offer() });
    expect(again.status).toBe(401);
    expect((await s.call('DELETE', location, { token: u.token })).status).toBe(200);
  });

  it('cannot manage keys or the account', async () => {
    const u = await signUp(s);
    const { key, apiKey } = (await (await createKey(u.token)).json()) as { key: string; apiKey: { id: string } };
    for (const [method, path] of [
      ['POST', '/api/v1/api-keys'],
      ['GET', '/api/v1/api-keys'],
      ['DELETE', `/api/v1/api-keys/${apiKey.id}`],
      ['POST', '/api/v1/auth/logout'],
    ] as const) {
      const r = await s.call(method, path, { token: key, ...(method === 'POST' ? { body: { name: 'x' } } : {}) });
      expect([method, path, r.status]).toEqual([method, path, 403]);
    }
    expect((await s.call('GET', '/api/v1/me', { token: key })).status).toBe(200); // still alive
  });

  it('expire, refuse bad input, and belong to their owner', async () => {
    const u = await signUp(s);
    const other = await signUp(s);
    expect((await createKey(u.token, { name: '' })).status).toBe(400);
    expect((await createKey(u.token, { name: 'x', expiresAt: '2001-01-01T00:00:00Z' })).status).toBe(400);
    const { key, apiKey } = (await (await createKey(u.token, { name: 'short', expiresAt: new Date(Date.now() + 60_000).toISOString() })).json()) as { key: string; apiKey: { id: string } };
    expect((await s.call('GET', '/api/v1/me', { token: key })).status).toBe(200);
    await s.app.deps.db.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', apiKey.id).execute();
    expect((await s.call('GET', '/api/v1/me', { token: key })).status).toBe(401);
    expect((await s.call('DELETE', `/api/v1/api-keys/${apiKey.id}`, { token: other.token })).status).toBe(404);
    expect((await s.call('GET', '/api/v1/me', { token: 'lk_' + 'a'.repeat(32) })).status).toBe(401);
  });
});
