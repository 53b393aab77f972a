import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { sessionIdOf } from '../../src/accounts/sessions.js';
import { signUp, startTestServer } from '../helpers/server.js';

/** Sends raw HTTP so the test controls when each byte of the body leaves. */
function rawRequest(port: number, head: string): { socket: net.Socket; response: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(head);
  const response = new Promise<string>((resolve, reject) => {
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('end', () => resolve(data));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
  return { socket, response };
}

describe('graceful shutdown', () => {
  it('finishes a request in flight, refuses new connections, then closes the database', async () => {
    const s = await startTestServer();
    const body = JSON.stringify({ email: 'inflight@example.com', password: 'finish me please' });
    const half = Math.floor(body.length / 2);
    const { socket, response } = rawRequest(
      s.app.port,
      `POST /api/v1/auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, half)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    const closing = s.app.close(); // SIGTERM does exactly this
    await new Promise((r) => setTimeout(r, 100));
    // The listener is gone: a new connection is refused while the old request is still open.
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect(s.app.port, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        resolve(false);
      });
      c.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    socket.write(body.slice(half));
    const text = await response;
    expect(text).toMatch(/^HTTP\/1\.1 201/);
    await closing;
    expect(await s.app.database.ping()).toBe(false); // database closed after the request finished
    await s.close();
  });
});

describe('sliding sessions', () => {
  it('a session in the second half of its life is extended to 30 days and the cookie re-issued', async () => {
    const s = await startTestServer();
    try {
      const { email, password, user } = await signUp(s);
      const login = await s.call('POST', '/api/v1/auth/login', { body: { email, password } });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const db = s.app.deps.db;
      // Age every session of this user to 10 days from expiry.
      const tenDays = new Date(Date.now() + 10 * 86_400_000);
      await db.updateTable('sessions').set({ expires_at: tenDays }).where('user_id', '=', user.id).execute();

      const me = await s.call('GET', '/api/v1/me', { headers: { cookie } });
      expect(me.status).toBe(200);
      const reissued = me.headers.get('set-cookie') ?? '';
      expect(reissued).toContain(cookie);
      expect(Number(/Max-Age=(\d+)/.exec(reissued)?.[1])).toBeGreaterThan(29 * 86_400);
      const rows = await db.selectFrom('sessions').select('expires_at').where('user_id', '=', user.id).execute();
      expect(rows.some((r) => r.expires_at.getTime() > Date.now() + 29 * 86_400_000)).toBe(true);

      // An expired session is refused and deleted.
      await db.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', user.id).execute();
      expect((await s.call('GET', '/api/v1/me', { headers: { cookie } })).status).toBe(401);
      const cookieSession = sessionIdOf(cookie.split('=')[1]!);
      const left = await db.selectFrom('sessions').select('id').where('user_id', '=', user.id).execute();
      expect(left.map((r) => r.id)).not.toContain(cookieSession);
      expect(left).toHaveLength(1); // the other (unused) expired session is still there until it is presented
    } finally {
      await s.close();
    }
  });
});
