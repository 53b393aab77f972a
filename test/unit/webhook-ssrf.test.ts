/**
 * The SSRF guard: URL form, address classes, and a delivery that connects to the checked address whatever the
 * name says (a receiver on loopback gets a request for a name that does not resolve at all).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { postOnce } from '../../src/events/post.js';
import { parseWebhookUrl, rangeOf, resolveTarget } from '../../src/events/ssrf.js';

describe('webhook URLs', () => {
  it('takes http(s) up to 2,048 characters and nothing else', () => {
    expect(parseWebhookUrl('https://example.com/hook').href).toBe('https://example.com/hook');
    expect(() => parseWebhookUrl('ftp://example.com/x')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => parseWebhookUrl('javascript:alert(1)')).toThrow(/http/);
    expect(() => parseWebhookUrl('not a url')).toThrow(/not a valid address/);
    expect(() => parseWebhookUrl('https://user:pw@example.com/')).toThrow(/user name or password/);
    expect(() => parseWebhookUrl('https://example.com/' + 'a'.repeat(2030))).toThrow(/longer than 2048/);
    expect(() => parseWebhookUrl(42)).toThrow(/url is required/);
  });

  it('calls only public unicast addresses public, IPv4-mapped IPv6 included', () => {
    expect(rangeOf('93.184.216.34')).toBe('unicast');
    expect(rangeOf('2606:4700::1111')).toBe('unicast');
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1', '255.255.255.255']) {
      expect(rangeOf(a), a).not.toBe('unicast');
    }
  });

  it('refuses names and literals that reach private addresses unless allowed', async () => {
    for (const u of ['http://127.0.0.1:9/', 'http://localhost/', 'http://[::1]/', 'http://10.0.0.1/', 'http://169.254.169.254/latest', 'http://[::ffff:7f00:1]/']) {
      await expect(resolveTarget(new URL(u), false), u).rejects.toThrow(/not a public address/);
    }
    await expect(resolveTarget(new URL('http://no-such-host.invalid/'), false)).rejects.toThrow(/does not resolve/);
    expect(await resolveTarget(new URL('http://127.0.0.1:9/'), true)).toMatchObject({ address: '127.0.0.1', family: 4 });
  });
});

describe('a delivery attempt', () => {
  it('connects to the checked address, not to what the name resolves to now, and follows no redirect', async () => {
    const hosts: string[] = [];
    const server = http.createServer((req, res) => {
      hosts.push(req.headers.host ?? '');
      if (req.url === '/moved') res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end();
      else res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const url = new URL(`http://rebound.invalid:${port}/hook`); // .invalid never resolves (RFC 6761)
      const ok = await postOnce({ url, address: '127.0.0.1', family: 4 }, { 'webhook-id': 'msg_x' }, '{}', 5000);
      expect(ok).toEqual({ ok: true, statusCode: 204 });
      expect(hosts).toEqual([`rebound.invalid:${port}`]);
      const moved = await postOnce({ url: new URL(`http://rebound.invalid:${port}/moved`), address: '127.0.0.1', family: 4 }, {}, '{}', 5000);
      expect(moved).toMatchObject({ ok: false, statusCode: 302, error: expect.stringMatching(/redirects are not followed/) as unknown });
      expect(hosts).toHaveLength(2); // the redirect's target was never asked
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('gives up on a receiver that does not answer within the timeout', async () => {
    const server = http.createServer(() => undefined); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const started = Date.now();
      const r = await postOnce({ url: new URL(`http://127.0.0.1:${port}/`), address: '127.0.0.1', family: 4 }, {}, '{}', 300);
      expect(r).toEqual({ ok: false, error: 'no answer within 0.3 s' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
