/**
 * What a server shows beyond its users (hostile review, defect 12): /metrics only to loopback without a token, and
 * the session cookie `Secure` whenever the client came over HTTPS through a trusted proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../../../src/http/routes/system.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ TRUST_PROXY: 'true' });
});
afterAll(async () => s?.close());

describe('/metrics without METRICS_TOKEN', () => {
  it('answers a loopback client and refuses any other with 403', async () => {
    expect((await s.call('GET', '/metrics')).status).toBe(200);
    const remote = await s.call('GET', '/metrics', { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(remote.status).toBe(403);
    expect(((await remote.json()) as { error: { message: string } }).error.message).toMatch(/set METRICS_TOKEN/);
  });

  it('knows loopback in every spelling a socket gives', () => {
    for (const ip of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1', '0000:0000:0000:0000:0000:0000:0000:0001', '0000:0000:0000:0000:0000:ffff:127.0.0.1']) {
      expect(isLoopback(ip), ip).toBe(true);
    }
    for (const ip of ['10.0.0.1', '192.168.1.2', '::2', '128.0.0.1', '::ffff:10.0.0.1', '']) expect(isLoopback(ip), ip).toBe(false);
  });
});

describe('the session cookie behind a TLS proxy', () => {
  it('is Secure when the trusted proxy says the client came over https, and not otherwise', async () => {
    const { email, password } = await signUp(s);
    const login = (headers: Record<string, string>): Promise<Response> => s.call('POST', '/api/v1/auth/login', { body: { email, password }, headers });
    expect((await login({ 'x-forwarded-proto': 'https' })).headers.get('set-cookie')).toMatch(/; Secure$/);
    expect((await login({ 'x-forwarded-proto': 'http' })).headers.get('set-cookie')).not.toMatch(/Secure/);
    expect((await login({})).headers.get('set-cookie')).not.toMatch(/Secure/);
  });
});
