import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ PRELOAD_MODELS: 'true', ORT_PROVIDERS: 'cuda,cpu' });
});
afterAll(async () => s?.close());

describe('operations endpoints', () => {
  it('GET /api/v1/health says "starting" (503) while the models load and warm, then reports the database and queue', async () => {
    // Asked right after the start: three models take seconds to load and warm, more on a busy machine.
    const early = await s.call('GET', '/api/v1/health');
    expect(early.status).toBe(503);
    expect(await early.json()).toMatchObject({ status: 'starting', onnx: { warming: true, models: { total: 3 } } });
    let r = early;
    for (let i = 0; i < 600 && r.status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await s.call('GET', '/api/v1/health');
    }
    expect(r.status).toBe(200);
    const h = (await r.json()) as Record<string, Record<string, unknown>>;
    expect(h['status']).toBe('ok');
    expect(h['db']).toMatchObject({ ok: true, kind: 'external' }); // tests hand the server a DATABASE_URL
    expect(h['queue']).toMatchObject({ ok: true, backend: 'postgres' });
    const ffmpeg = h['ffmpeg']!;
    expect(ffmpeg['ok']).toBe(true);
    expect(ffmpeg['path']).toMatch(/ffmpeg/);
    expect(ffmpeg['version']).toMatch(/^\S+$/);
    expect(h).toHaveProperty('onnx.providers');
    expect(h['onnx']).toMatchObject({ warming: false, models: { total: 3, ready: 3, failed: 0 } });
  });

  it('GET /api/v1/models lists the bundled models with exactly one default', async () => {
    const r = await s.call('GET', '/api/v1/models');
    expect(r.status).toBe(200);
    const { models } = (await r.json()) as { models: { name: string; family: string; inputSize: number[]; labels: string[]; default: boolean }[] };
    const byName = new Map(models.map((m) => [m.name, m]));
    expect(byName.get('blazeface')).toMatchObject({ family: 'blazeface', inputSize: [256, 256], labels: ['face'] });
    expect(byName.get('nanodet')).toMatchObject({ family: 'nanodet', inputSize: [416, 416] });
    expect(byName.get('nanodet')!.labels).toHaveLength(80);
    expect(byName.get('nanodet')!.labels).toContain('person');
    expect(models.filter((m) => m.default)).toHaveLength(1);
  });

  it('health shows the execution provider each loaded model got (CPU here, after a CUDA request)', async () => {
    // The server warms every model in the background at start; wait for it.
    let onnx: { requested: string[]; providers: Record<string, string[]> } | undefined;
    for (let i = 0; i < 100; i++) {
      onnx = ((await (await s.call('GET', '/api/v1/health')).json()) as { onnx: typeof onnx }).onnx;
      if (onnx && Object.keys(onnx.providers).length >= 3) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(onnx!.requested).toEqual(['cuda', 'cpu']);
    expect(onnx!.providers).toEqual({ blazeface: ['cpu'], emotion: ['cpu'], nanodet: ['cpu'] });
  });

  it('health is 503 when the queue backend is down', async () => {
    const t = await startTestServer({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const r = await t.call('GET', '/api/v1/health');
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ status: 'degraded', queue: { ok: false, backend: 'redis' } });
    } finally {
      await t.close();
    }
  });

  it('the OpenAPI document lists every API route with its responses', async () => {
    const doc = (await (await s.call('GET', '/api/openapi.json')).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    for (const expected of [
      'POST /api/v1/auth/register',
      'POST /api/v1/auth/login',
      'POST /api/v1/auth/logout',
      'GET /api/v1/me',
      'GET /api/v1/tokens',
      'GET /api/v1/tokens/ledger',
      'POST /api/v1/admin/top-ups',
      'GET /api/v1/admin/users',
      'GET /api/v1/health',
    ]) {
      expect(documented).toContain(expected);
    }
    for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) expect(Object.keys(op.responses).length).toBeGreaterThan(0);
  });

  it('serves the interactive docs from the npm package, no CDN', async () => {
    const page = await s.call('GET', '/api/docs');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/api/docs/swagger-ui-bundle.js');
    expect(html).not.toMatch(/https?:\/\//);
    const bundle = await s.call('GET', '/api/docs/swagger-ui-bundle.js');
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('javascript');
  });

  it('serves public/ at / and refuses paths outside it', async () => {
    const home = await s.call('GET', '/');
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
    expect(await home.text()).toContain('Lookout');
    const escape = await fetch(`${s.url}/%2e%2e/package.json`);
    expect(escape.status).toBe(404);
    const escape2 = await fetch(`${s.url}/..%2fpackage.json`);
    expect(escape2.status).toBe(404);
  });
});
