/** Health, the OpenAPI document and its interactive page, and the web app's static files. */
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { AppError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import { json } from '../respond.js';
import { errorResp, jsonResponse, obj } from '../schemas.js';
import type { HttpResponse, Route } from '../types.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The web app's own policy: its scripts, styles, media and connections (the API, the WebSocket) come from
 * this origin only; nothing inline, nothing from a CDN, no framing.
 */
const APP_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** Reads `rel` under `root`, refusing anything that resolves outside it. */
async function serveFile(root: string, rel: string, cacheControl: string, extraHeaders: Record<string, string> = {}): Promise<HttpResponse> {
  const file = path.resolve(root, rel);
  if (file !== root && !file.startsWith(root + path.sep)) throw new AppError('NOT_FOUND', 'No such file.');
  let body: Buffer;
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) return serveFile(root, path.join(rel, 'index.html'), cacheControl, extraHeaders);
    body = await fs.readFile(file);
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('NOT_FOUND', `No such file: /${rel}`);
  }
  return {
    status: 200,
    headers: { 'content-type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'cache-control': cacheControl, ...extraHeaders },
    body,
  };
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Lookout API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>`;

const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true, withCredentials: true });`;

export function systemRoutes(deps: AppDeps, opts: { publicDir: string; version: string; openapi: () => unknown }): Route[] {
  const require = createRequire(import.meta.url);
  const swaggerDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const publicDir = path.resolve(opts.publicDir);
  return [
    {
      method: 'GET',
      path: '/api/v1/health',
      access: 'public',
      doc: {
        summary: 'Health of the server and its dependencies',
        tags: ['Operations'],
        responses: {
          '200': jsonResponse(
            'Everything needed is up',
            obj({
              status: { type: 'string', enum: ['ok', 'starting', 'degraded', 'draining'] },
              version: { type: 'string' },
              db: { type: 'object' },
              queue: { type: 'object' },
              ffmpeg: obj({ path: { type: ['string', 'null'] }, version: { type: ['string', 'null'] } }, []),
              onnx: obj({ providers: { type: 'object' } }, []),
              cluster: {
                description: 'With REDIS_URL: this server and every server up (heartbeat within 10 s); load is event-loop utilisation, 0 to 1.',
                ...obj({
                  node: { type: 'string' },
                  nodes: {
                    type: 'array',
                    items: obj({ id: { type: 'string' }, liveSessions: { type: 'integer' }, load: { type: 'number' }, draining: { type: 'boolean' } }),
                  },
                }),
              },
            }),
          ),
          '503':
            'A dependency is down (status "degraded"), the models are still loading and warming after a start (status "starting"), ' +
            'or the server is draining: it takes no new live sessions (status "draining"); the body has the same shape.',
        },
      },
      handler: async () => {
        const [db, queue, ffmpeg, onnx, cluster] = await Promise.all([
          deps.health.db(),
          deps.health.queue(),
          deps.health.ffmpeg(),
          deps.health.onnx(),
          deps.cluster.health().catch(() => undefined),
        ]);
        const ok = db.ok && queue.ok;
        const starting = onnx['warming'] === true;
        const draining = deps.live.draining;
        const status = !ok ? 'degraded' : starting ? 'starting' : draining ? 'draining' : 'ok';
        const body = { status, version: opts.version, db, queue, ffmpeg, onnx, ...(cluster ? { cluster } : {}) };
        return json(status === 'ok' ? 200 : 503, body, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: '/api/openapi.json',
      access: 'public',
      handler: async () => json(200, opts.openapi()),
    },
    {
      method: 'GET',
      path: '/api/docs',
      access: 'public',
      handler: async () => ({ status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: DOCS_HTML }),
    },
    {
      method: 'GET',
      path: '/api/docs/init.js',
      access: 'public',
      handler: async () => ({ status: 200, headers: { 'content-type': 'text/javascript; charset=utf-8' }, body: DOCS_INIT }),
    },
    {
      method: 'GET',
      path: '/api/docs/*',
      access: 'public',
      handler: async ({ params }) => serveFile(swaggerDir, params['*'] ?? '', 'public, max-age=3600'),
    },
    {
      method: 'GET',
      path: '/metrics',
      access: 'public',
      doc: {
        summary: 'Prometheus metrics',
        description:
          'Prometheus text exposition format. Without METRICS_TOKEN it answers loopback clients only (403 to others); with it, ' +
          'it needs `Authorization: Bearer <METRICS_TOKEN>` from anywhere. ' +
          'The metrics and their labels are listed in the README.',
        tags: ['Operations'],
        responses: {
          '200': { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
          '401': errorResp('METRICS_TOKEN is set and the request does not carry it.'),
          '403': errorResp('METRICS_TOKEN is not set and the client is not on loopback (FORBIDDEN).'),
        },
      },
      handler: async ({ req }) => {
        const token = deps.config.metricsToken;
        if (token === undefined && !isLoopback(req.ip)) {
          throw new AppError('FORBIDDEN', 'Metrics are served to loopback clients only; set METRICS_TOKEN to scrape them from elsewhere.');
        }
        if (token !== undefined) {
          const given = /^Bearer (.+)$/i.exec(req.headers['authorization'] ?? '')?.[1] ?? '';
          const a = Buffer.from(given);
          const b = Buffer.from(token);
          if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AppError('UNAUTHENTICATED', 'Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.');
        }
        const { contentType, body } = await deps.metrics.text();
        return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body };
      },
    },
    {
      method: 'GET',
      path: '/*',
      access: 'public',
      handler: async ({ req, params }) => {
        const rel = params['*'] ?? '';
        if (rel === 'api' || rel.startsWith('api/')) throw new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}.`);
        return serveFile(publicDir, rel === '' ? 'index.html' : rel, 'no-cache', APP_HEADERS);
      },
    },
  ];
}

/** 127.0.0.0/8 and ::1, in the spellings a socket reports them (IPv4-mapped and uncompressed IPv6 included). */
export function isLoopback(ip: string): boolean {
  const v = ip.toLowerCase().replace(/^::ffff:/, '').replace(/^0000:0000:0000:0000:0000:ffff:/, '');
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v)) return true;
  return v === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(v);
}
