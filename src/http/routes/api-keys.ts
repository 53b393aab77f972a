/** API keys for scripts and devices: create (the secret shown once), list, revoke. A session only, never a key. */
import { audit } from '../../accounts/audit.js';
import { createApiKey, listApiKeys, MAX_KEYS_PER_USER, revokeApiKey } from '../../accounts/api-keys.js';
import { AppError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import { json, noContent, readJson } from '../respond.js';
import { BAD_REQUEST, errorResp, jsonBody, jsonResponse, obj, ref, UNAUTH } from '../schemas.js';
import type { Route } from '../types.js';

const KEY_ONLY = { '403': errorResp('Called with an API key: keys cannot manage keys (FORBIDDEN).') };

export function apiKeyRoutes(deps: AppDeps): Route[] {
  const { db } = deps;
  return [
    {
      method: 'POST',
      path: '/api/v1/api-keys',
      access: 'user',
      apiKey: false,
      doc: {
        summary: 'Create an API key',
        description:
          'The key (`lk_…`) is in the answer once and never again; only its SHA-256 is kept. It authenticates like a bearer ' +
          'token (REST, the WebSocket upgrade, WHIP; also `X-API-Key`), but cannot manage API keys or the account. ' +
          `At most ${MAX_KEYS_PER_USER} keys per user.`,
        tags: ['API keys'],
        requestBody: jsonBody(obj({ name: { type: 'string', minLength: 1, maxLength: 100 }, expiresAt: { type: 'string', format: 'date-time' } }, ['name'])),
        responses: {
          '201': jsonResponse('Created', obj({ apiKey: ref('ApiKey'), key: { type: 'string', description: 'The secret, shown once' } })),
          ...BAD_REQUEST,
          ...UNAUTH,
          ...KEY_ONLY,
          '409': errorResp(`You already have ${MAX_KEYS_PER_USER} keys (CONFLICT).`),
        },
      },
      handler: async ({ req, auth }) => {
        const body = readJson(req);
        const created = await createApiKey(db, auth!.user.id, { name: body['name'], expiresAt: body['expiresAt'] });
        deps.logger.info({ userId: auth!.user.id, keyId: created.apiKey.id }, 'API key created');
        const u = auth!.user;
        await audit(db, { actor: { id: u.id, name: u.email }, action: 'api_key.created', targetId: u.id, target: u.email, detail: { keyId: created.apiKey.id, name: created.apiKey.name, prefix: created.apiKey.prefix } });
        return json(201, created);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/api-keys',
      access: 'user',
      apiKey: false,
      doc: {
        summary: 'Your API keys (prefix only), newest first',
        tags: ['API keys'],
        responses: { '200': jsonResponse('Keys', obj({ apiKeys: { type: 'array', items: ref('ApiKey') } })), ...UNAUTH, ...KEY_ONLY },
      },
      handler: async ({ auth }) => json(200, { apiKeys: await listApiKeys(db, auth!.user.id) }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/api-keys/:id',
      access: 'user',
      apiKey: false,
      doc: {
        summary: 'Revoke an API key',
        description: 'It stops working at once: the next request gets 401, and WebSockets it opened are closed (1008).',
        tags: ['API keys'],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '204': 'Revoked', ...UNAUTH, ...KEY_ONLY, '404': errorResp('No such key of yours (NOT_FOUND).') },
      },
      handler: async ({ params, auth }) => {
        if (!(await revokeApiKey(db, auth!.user.id, params['id']!))) throw new AppError('NOT_FOUND', 'No such API key.');
        deps.logger.info({ userId: auth!.user.id, keyId: params['id'] }, 'API key revoked');
        const u = auth!.user;
        await audit(db, { actor: { id: u.id, name: u.email }, action: 'api_key.revoked', targetId: u.id, target: u.email, detail: { keyId: params['id'] } });
        return noContent();
      },
    },
  ];
}
