/** Webhooks: subscribe a URL to events, list and remove them, read their delivery log, retry a delivery. */
import { createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, MAX_DESCRIPTION, MAX_WEBHOOKS, parseEvents, setEnabled, toPublicDelivery, toPublicWebhook } from '../../events/repo.js';
import { parseWebhookUrl, resolveTarget } from '../../events/ssrf.js';
import { EVENT_TYPES } from '../../events/types.js';
import { AppError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import { json, noContent, readJson } from '../respond.js';
import { BAD_REQUEST, errorResp, jsonBody, jsonResponse, obj, ref, UNAUTH } from '../schemas.js';
import type { Route } from '../types.js';

const NOT_FOUND = { '404': errorResp('No such webhook of yours (NOT_FOUND).') };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

export function webhookRoutes(deps: AppDeps): Route[] {
  const { db, config } = deps;
  return [
    {
      method: 'POST',
      path: '/api/v1/webhooks',
      access: 'user',
      doc: {
        summary: 'Subscribe a URL to events',
        description:
          `Events: ${EVENT_TYPES.join(', ')}. Each delivery is a POST of {"type", "timestamp", "data"} signed per Standard ` +
          'Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with ' +
          'the secret, shown once). Any 2xx within 5 s is success; anything else is retried with exponential backoff and jitter ' +
          '(7 attempts, the last at least 85 min after the first), with the same webhook-id. Redirects are not followed. The URL ' +
          `is http(s), at most 2,048 characters, and must resolve to public addresses (unless WEBHOOKS_ALLOW_PRIVATE). At most ${MAX_WEBHOOKS} per user.`,
        tags: ['Webhooks'],
        requestBody: jsonBody(
          obj(
            {
              url: { type: 'string', format: 'uri', maxLength: 2048 },
              events: { type: 'array', minItems: 1, items: { type: 'string', enum: [...EVENT_TYPES] } },
              description: { type: 'string', maxLength: MAX_DESCRIPTION },
            },
            ['url', 'events'],
          ),
        ),
        responses: {
          '201': jsonResponse('Created', obj({ webhook: ref('Webhook'), secret: { type: 'string', description: 'whsec_…, shown once' } })),
          '400': errorResp('A URL that is not http(s), too long, does not resolve or resolves to a private address; unknown events; too many webhooks (VALIDATION_FAILED).'),
          ...UNAUTH,
        },
      },
      handler: async ({ req, auth }) => {
        const body = readJson(req);
        const url = parseWebhookUrl(body['url']);
        const events = parseEvents(body['events']);
        const description = body['description'];
        if (description !== undefined && description !== null && (typeof description !== 'string' || description.length > MAX_DESCRIPTION)) {
          throw new AppError('VALIDATION_FAILED', `description must be text of at most ${MAX_DESCRIPTION} characters.`);
        }
        await resolveTarget(url, config.webhooks.allowPrivate);
        const { webhook, secret } = await createWebhook(db, { userId: auth!.user.id, url: url.toString(), events, description: typeof description === 'string' && description ? description : null });
        deps.logger.info({ userId: auth!.user.id, webhookId: webhook.id, events }, 'webhook created');
        return json(201, { webhook: toPublicWebhook(webhook), secret });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/webhooks',
      access: 'user',
      doc: {
        summary: 'Your webhooks, newest first',
        tags: ['Webhooks'],
        responses: { '200': jsonResponse('Webhooks', obj({ webhooks: { type: 'array', items: ref('Webhook') } })), ...UNAUTH },
      },
      handler: async ({ auth }) => json(200, { webhooks: (await listWebhooks(db, auth!.user.id)).map(toPublicWebhook) }),
    },
    {
      method: 'PATCH',
      path: '/api/v1/webhooks/:id',
      access: 'user',
      doc: {
        summary: 'Turn a webhook on or off',
        description: 'A webhook disabled after sustained failure stays off until its owner turns it on again (its failure count starts over).',
        tags: ['Webhooks'],
        parameters: [idParam],
        requestBody: jsonBody(obj({ enabled: { type: 'boolean' } })),
        responses: { '200': jsonResponse('The webhook', obj({ webhook: ref('Webhook') })), ...BAD_REQUEST, ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ req, params, auth }) => {
        const enabled = readJson(req)['enabled'];
        if (typeof enabled !== 'boolean') throw new AppError('VALIDATION_FAILED', 'enabled must be true or false.');
        return json(200, { webhook: toPublicWebhook(await setEnabled(db, auth!.user.id, params['id'], enabled)) });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/webhooks/:id',
      access: 'user',
      doc: {
        summary: 'Remove a webhook',
        description: 'Its pending deliveries are dropped with it.',
        tags: ['Webhooks'],
        parameters: [idParam],
        responses: { '204': 'Removed', ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ params, auth }) => {
        await deleteWebhook(db, auth!.user.id, params['id']);
        return noContent();
      },
    },
    {
      method: 'GET',
      path: '/api/v1/webhooks/:id/deliveries',
      access: 'user',
      doc: {
        summary: "A webhook's deliveries (the newest 100)",
        tags: ['Webhooks'],
        parameters: [idParam],
        responses: { '200': jsonResponse('Deliveries', obj({ deliveries: { type: 'array', items: ref('WebhookDelivery') } })), ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ params, auth }) => {
        const hook = await getWebhook(db, auth!.user.id, params['id']);
        return json(200, { deliveries: (await listDeliveries(db, hook.id)).map(toPublicDelivery) });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/webhooks/:id/deliveries/:delivery/retry',
      access: 'user',
      doc: {
        summary: 'Send a delivery again',
        description: 'A new round of attempts for a delivered or failed delivery, with the same webhook-id.',
        tags: ['Webhooks'],
        parameters: [idParam, { name: 'delivery', in: 'path', required: true, schema: { type: 'string' }, description: 'The delivery id (msg_…)' }],
        responses: {
          '202': 'Queued',
          ...UNAUTH,
          '404': errorResp('No such webhook or delivery of yours (NOT_FOUND).'),
          '409': errorResp('The delivery is still being attempted, or the webhook is disabled (CONFLICT).'),
        },
      },
      handler: async ({ params, auth }) => {
        await deps.webhooks.retry(auth!.user.id, params['id'], params['delivery']);
        return { status: 202 };
      },
    },
  ];
}
