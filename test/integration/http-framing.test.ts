/**
 * What the HTTP layer writes, byte for byte, where proxies are strict: a 204 has no Content-Length (HAProxy
 * answers 502 for one that has), and a HEAD reports the length its GET has. Read from a raw socket, since
 * fetch hides both.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

/** Sends one raw request and returns the response head (status line and headers, lower-cased names). */
async function rawHead(request: string): Promise<{ status: number; headers: Map<string, string> }> {
  const { port } = new URL(s.url);
  const text = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(Number(port), '127.0.0.1', () => sock.write(request));
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
  });
  const [statusLine, ...lines] = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine!.split(' ')[1]), headers };
}

describe('HTTP framing', () => {
  it('a 204 carries no Content-Length', async () => {
    const u = await signUp(s);
    const r = await rawHead(`POST /api/v1/auth/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${u.token}\r\nContent-Length: 0\r\n\r\n`);
    expect(r.status).toBe(204);
    expect(r.headers.has('content-length')).toBe(false);
  });

  it('a HEAD reports the Content-Length of its GET', async () => {
    const get = await s.call('GET', '/api/openapi.json');
    const body = Buffer.from(await get.arrayBuffer());
    const head = await rawHead('HEAD /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(body.length);
  });
});
