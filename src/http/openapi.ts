/** The OpenAPI 3.1 document, generated from the route table so it cannot drift from the routes. */
import type { Route } from './types.js';
import { COMPONENT_SCHEMAS } from './schemas.js';

export function buildOpenApi(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (!r.doc) continue;
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
    const declared = new Set((r.doc.parameters ?? []).map((p) => `${String(p['in'])}:${String(p['name'])}`));
    const parameters = [
      ...params
        .filter((p) => !declared.has(`path:${p}`))
        .map((p) => ({ name: p, in: 'path', required: true, schema: { type: 'string' } })),
      ...(r.doc.parameters ?? []),
    ];
    const responses: Record<string, unknown> = {};
    for (const [status, v] of Object.entries(r.doc.responses)) responses[status] = typeof v === 'string' ? { description: v } : v;
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.doc.summary,
      ...(r.doc.description ? { description: r.doc.description } : {}),
      tags: r.doc.tags,
      operationId: `${r.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^a-zA-Z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(parameters.length ? { parameters } : {}),
      ...(r.doc.requestBody ? { requestBody: r.doc.requestBody } : {}),
      responses,
      security: r.access === 'public' ? [] : [{ bearer: [] }, { cookie: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Lookout API',
      version,
      description:
        'Real-time and batch object detection. Errors are `{"error": {"code", "message"}}` with the codes listed in the Error schema. ' +
        'Token amounts are numbers with at most 3 decimals.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: COMPONENT_SCHEMAS,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'The token from POST /api/v1/auth/login.' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'lookout_session' },
      },
    },
  };
}
