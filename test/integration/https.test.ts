/**
 * HTTPS from the server itself: the same API, WebSocket and WHIP over TLS with a self-signed certificate made at
 * first start, Secure cookies on that origin, a certificate reloaded on SIGHUP, and a start refused (naming the
 * variable) when TLS_CERT/TLS_KEY cannot be used.
 */
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { RTCPeerConnection, useVP8 } from 'werift';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSelfSigned } from '../../src/http/tls.js';
import { createLogger } from '../../src/log.js';
import { createTestDatabase } from '../helpers/db.js';
import { ensureModels } from '../helpers/onnx-setup.js';
import { freePort, spawnNode, waitFor200 } from '../helpers/process.js';
import { signUp, startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
let base: string;
let tmp: string;
beforeAll(async () => {
  await ensureModels();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-https-'));
  s = await startTestServer({ HTTPS_PORT: String(await freePort()) });
  base = `https://127.0.0.1:${s.app.httpsPort}`;
}, 120_000);
afterAll(async () => {
  await s?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** A request over HTTPS that accepts the server's self-signed certificate. */
function request(method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The certificate a TLS server at 127.0.0.1:port presents. */
function peerCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.end();
      if (raw) resolve(raw);
      else reject(new Error('no certificate'));
    });
    socket.on('error', reject);
  });
}

describe('HTTPS beside HTTP', () => {
  it('serves the API with the self-signed certificate made at first start, and marks the session cookie Secure', async () => {
    const cert = await peerCertificate(s.app.httpsPort);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.fingerprint256).toBe(new X509Certificate(await readFile(path.join(s.dataDir, 'tls/cert.pem'))).fingerprint256);
    expect((await request('GET', `${base}/api/v1/health`)).status).toBe(200);
    const json = { 'content-type': 'application/json' };
    const creds = JSON.stringify({ email: `tls-${Date.now()}@example.com`, password: 'correct horse battery' });
    expect((await request('POST', `${base}/api/v1/auth/register`, creds, json)).status).toBe(201);
    const login = await request('POST', `${base}/api/v1/auth/login`, creds, json);
    expect(login.status).toBe(200);
    expect(String(login.headers['set-cookie'])).toMatch(/; Secure$/);
    // The same login over plain HTTP gets no Secure flag (it would never be sent back).
    expect((await s.call('POST', '/api/v1/auth/login', { body: JSON.parse(creds) as unknown })).headers.get('set-cookie')).not.toMatch(/Secure/);
  });

  it('carries the WebSocket (wss) and WHIP over TLS', async () => {
    const u = await signUp(s);
    const ws = new WebSocket(`wss://127.0.0.1:${s.app.httpsPort}/api/v1/ws`, { headers: { authorization: `Bearer ${u.token}` }, rejectUnauthorized: false });
    const messages: Record<string, unknown>[] = [];
    ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const pc = new RTCPeerConnection({ iceServers: [], codecs: { video: [useVP8()] } });
    pc.addTransceiver('video', { direction: 'sendonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const whip = await request('POST', `${base}/api/v1/whip?model=blazeface&record=false`, pc.localDescription!.sdp, { authorization: `Bearer ${u.token}`, 'content-type': 'application/sdp' });
    await pc.close();
    expect(whip.status).toBe(201);
    expect(whip.body).toMatch(/^v=0/);
    const sessionId = String(whip.headers['location']).split('/').at(-1)!;
    ws.send(JSON.stringify({ type: 'subscribe', topic: `live:${sessionId}` }));
    await expect.poll(() => messages.some((m) => m['type'] === 'live.stats' && m['sessionId'] === sessionId), { timeout: 10_000 }).toBe(true);
    expect((await request('DELETE', `${base}/api/v1/whip/${sessionId}`, undefined, { authorization: `Bearer ${u.token}` })).status).toBe(200);
    await expect.poll(() => messages.some((m) => m['type'] === 'live.ended'), { timeout: 10_000 }).toBe(true);
    ws.close();
  });
});

describe('TLS_CERT and TLS_KEY', () => {
  it('are reloaded on SIGHUP, and a pair that does not match stops the start with a message naming the variable', async () => {
    const logger = createLogger('silent');
    const a = await ensureSelfSigned(path.join(tmp, 'a'), logger);
    const b = await ensureSelfSigned(path.join(tmp, 'b'), logger);
    const certFile = path.join(tmp, 'server.crt');
    const keyFile = path.join(tmp, 'server.key');
    await copyFile(a.certFile, certFile);
    await copyFile(a.keyFile, keyFile);
    const database = await createTestDatabase();
    await database.db.destroy();
    const port = await freePort();
    const httpsPort = await freePort();
    const env = { DATABASE_URL: database.url, PORT: String(port), HTTPS_PORT: String(httpsPort), HOST: '127.0.0.1', DATA_DIR: path.join(tmp, 'data'), PRELOAD_MODELS: 'false', LOG_LEVEL: 'info' };
    const server = spawnNode('src/main.ts', [], { ...env, TLS_CERT: certFile, TLS_KEY: keyFile });
    try {
      await waitFor200(`http://127.0.0.1:${port}/api/v1/health`, 60_000, server);
      const fingerprint = async (file: string): Promise<string> => new X509Certificate(await readFile(file)).fingerprint256;
      expect((await peerCertificate(httpsPort)).fingerprint256).toBe(await fingerprint(a.certFile));
      await copyFile(b.certFile, certFile);
      await copyFile(b.keyFile, keyFile);
      server.kill('SIGHUP');
      await expect.poll(async () => (await peerCertificate(httpsPort)).fingerprint256, { timeout: 10_000 }).toBe(await fingerprint(b.certFile));
      expect(server.output()).toContain('HTTPS certificate reloaded');
    } finally {
      server.kill('SIGTERM');
      await server.exited;
    }
    // A key that is not the certificate's: no start, and the message says which variable is wrong.
    await copyFile(a.keyFile, keyFile);
    const refused = spawnNode('src/main.ts', [], { ...env, TLS_CERT: certFile, TLS_KEY: keyFile });
    expect((await refused.exited).code).toBe(78);
    expect(refused.output()).toMatch(/Configuration error: TLS_KEY .* is not the private key of TLS_CERT/);
    await database.drop();
  }, 120_000);
});
