/**
 * Administration: users (paged, searchable; role, disabled; delete), balance adjustments, invites, and the audit
 * log. Every change is recorded in the audit log with the admin who made it.
 */
import { adjustBalance } from '../../accounts/adjust.js';
import { listUsersPage, updateUser } from '../../accounts/admin-users.js';
import { audit, listAudit, type Actor } from '../../accounts/audit.js';
import { createInvite } from '../../accounts/invites.js';
import { normaliseEmail } from '../../accounts/users.js';
import type { User } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { deleteUser } from '../../lifecycle/delete-user.js';
import type { AppDeps } from '../deps.js';
import { json, limitParam, noContent, readJson } from '../respond.js';
import { ADMIN_ONLY, BAD_REQUEST, BALANCE_CHANGED, errorResp, jsonBody, jsonResponse, obj, ref } from '../schemas.js';
import type { Route } from '../types.js';

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const NO_USER = { '404': errorResp('No such user (NOT_FOUND).') };
const LAST_ADMIN = { '409': errorResp('That would leave no active admin (CONFLICT).') };

export const actorOf = (u: User): Actor => ({ id: u.id, name: u.email });

export function adminRoutes(deps: AppDeps): Route[] {
  const { db, config } = deps;
  return [
    {
      method: 'GET',
      path: '/api/v1/admin/users',
      access: 'admin',
      doc: {
        summary: 'Users, a page at a time, searchable by email',
        description: 'Oldest first. `next` is the cursor of the following page: users who sign up meanwhile do not shift the pages.',
        tags: ['Admin'],
        parameters: [
          { name: 'query', in: 'query', schema: { type: 'string', maxLength: 254 }, description: 'Part of an email address' },
          { name: 'cursor', in: 'query', schema: { type: 'string' }, description: '`next` from the previous page' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
        ],
        responses: {
          '200': jsonResponse('One page of users', obj({ users: { type: 'array', items: ref('AdminUser') }, next: { type: 'string' } }, ['users'])),
          ...BAD_REQUEST,
          ...ADMIN_ONLY,
        },
      },
      handler: async ({ req }) => {
        const page = await listUsersPage(db, { query: req.query.get('query') ?? undefined, cursor: req.query.get('cursor') ?? undefined, limit: limitParam(req) });
        return json(200, page);
      },
    },
    {
      method: 'PATCH',
      path: '/api/v1/admin/users/:id',
      access: 'admin',
      doc: {
        summary: 'Change a user’s role, or disable or enable them',
        description: 'Disabling ends at once, on every server, the user’s sign-ins, open WebSockets, live sessions and API keys. The last active admin cannot be demoted or disabled.',
        tags: ['Admin'],
        parameters: [idParam],
        requestBody: jsonBody(obj({ role: { type: 'string', enum: ['user', 'admin'] }, disabled: { type: 'boolean' } }, [])),
        responses: { '200': jsonResponse('Changed', obj({ user: ref('AdminUser') })), ...BAD_REQUEST, ...ADMIN_ONLY, ...NO_USER, ...LAST_ADMIN },
      },
      handler: async ({ req, params, auth }) => json(200, { user: await updateUser(db, actorOf(auth!.user), params['id'], readJson(req)) }),
    },
    {
      method: 'DELETE',
      path: '/api/v1/admin/users/:id',
      access: 'admin',
      doc: {
        summary: 'Delete a user with their data and files',
        description: 'Datasets, jobs, live sessions, recordings, webhooks, sign-ins and API keys go. The ledger rows stay, anonymised (the account becomes a row without email), so the books still add up. The last active admin cannot be deleted.',
        tags: ['Admin'],
        parameters: [idParam],
        responses: { '204': 'Deleted', ...ADMIN_ONLY, ...NO_USER, ...LAST_ADMIN },
      },
      handler: async ({ params, auth }) => {
        await deleteUser(db, config, deps.logger, actorOf(auth!.user), params['id']);
        return noContent();
      },
    },
    {
      method: 'POST',
      path: '/api/v1/admin/adjustments',
      access: 'admin',
      doc: {
        summary: 'Correct a balance (up or down) with a reason',
        description: 'A ledger entry of its own kind (`adjustment`, the reason as `note`). Never takes a balance below zero (409). The `Idempotency-Key` header is required: a retry with the same key applies once.',
        tags: ['Admin'],
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', maxLength: 128 } }],
        requestBody: jsonBody(obj({ email: { type: 'string', format: 'email' }, amount: { type: 'number', not: { const: 0 }, multipleOf: 0.001 }, reason: { type: 'string', minLength: 1, maxLength: 500 } })),
        responses: {
          '200': jsonResponse('Applied (or applied before under this key)', BALANCE_CHANGED.answer),
          ...BAD_REQUEST,
          ...ADMIN_ONLY,
          ...BALANCE_CHANGED.noUser,
          '409': errorResp('The balance would go below zero, or the key was used for another adjustment (CONFLICT).'),
        },
      },
      handler: async ({ req, auth }) => {
        const r = await adjustBalance(db, actorOf(auth!.user), readJson(req), req.headers['idempotency-key']);
        deps.logger.info({ adminId: auth!.user.id, email: r.email, applied: r.applied }, 'balance adjusted');
        return json(200, { email: r.email, balance: r.balance });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/admin/invites',
      access: 'admin',
      doc: {
        summary: 'An invite code for one email address (REGISTRATION=invite)',
        description: 'The code is shown once; `/auth/register` takes it as `invite`, for that address, once.',
        tags: ['Admin'],
        requestBody: jsonBody(obj({ email: { type: 'string', format: 'email' } })),
        responses: { '201': jsonResponse('Created', obj({ email: { type: 'string' }, code: { type: 'string' } })), ...BAD_REQUEST, ...ADMIN_ONLY },
      },
      handler: async ({ req, auth }) => {
        const email = normaliseEmail(readJson(req)['email']);
        const actor = actorOf(auth!.user);
        const invite = await db.transaction().execute(async (tx) => {
          const created = await createInvite(tx, email, actor.id);
          await audit(tx, { actor, action: 'invite.created', target: email, detail: { inviteId: created.id } });
          return created;
        });
        return json(201, { email, code: invite.code });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/admin/audit',
      access: 'admin',
      doc: {
        summary: 'The audit log, newest first',
        description: 'Admin actions (role changes, disabling, deletions, top-ups, adjustments, invites) and security events (bursts of failed sign-ins, API keys created and revoked).',
        tags: ['Admin'],
        parameters: [
          { name: 'cursor', in: 'query', schema: { type: 'string' }, description: '`next` from the previous page' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
        ],
        responses: { '200': jsonResponse('One page', obj({ entries: { type: 'array', items: ref('AuditEntry') }, next: { type: 'string' } }, ['entries'])), ...BAD_REQUEST, ...ADMIN_ONLY },
      },
      handler: async ({ req }) => {
        const cursor = req.query.get('cursor');
        if (cursor !== null && !/^\d{1,18}$/.test(cursor)) throw new AppError('VALIDATION_FAILED', 'cursor is not valid.');
        return json(200, await listAudit(db, limitParam(req), cursor === null ? undefined : Number(cursor)));
      },
    },
    {
      method: 'POST',
      path: '/api/v1/admin/nodes/:node/drain',
      access: 'admin',
      doc: {
        summary: 'Drain a server: no new live sessions there; running ones end after a deadline',
        description:
          'Any server takes the request and passes it to the named one (`cluster.nodes[].id` in /health; without REDIS_URL only ' +
          'this server). From now on that server takes no new live session (its /health answers 503 "draining", and full or ' +
          'draining servers send new sessions elsewhere); the running ones go on for `deadlineS` (default DRAIN_TIMEOUT_S) and ' +
          'are then ended as `stopped`. The server stays up; restart it to take sessions again. SIGTERM drains the same way.',
        tags: ['Admin'],
        parameters: [{ name: 'node', in: 'path', required: true, schema: { type: 'string', maxLength: 200 }, description: 'NODE_ID of the server' }],
        requestBody: { ...jsonBody(obj({ deadlineS: { type: 'integer', minimum: 0, maximum: 3600 } }, [])), required: false },
        responses: {
          '202': jsonResponse('Draining', obj({ node: { type: 'string' }, liveSessions: { type: 'integer' }, deadlineS: { type: 'integer' } })),
          ...BAD_REQUEST,
          ...ADMIN_ONLY,
          '404': errorResp('No such server is up (NOT_FOUND).'),
          '503': errorResp('That server did not answer (UNAVAILABLE).'),
        },
      },
      handler: async ({ req, params, auth }) => {
        const body = req.body.length ? readJson(req) : {};
        const raw = body['deadlineS'] ?? config.drainTimeoutS;
        if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 3600) throw new AppError('VALIDATION_FAILED', 'deadlineS must be a whole number of seconds from 0 to 3600.');
        const node = params['node']!;
        const result = await deps.cluster.drain(node, raw);
        await audit(db, { actor: actorOf(auth!.user), action: 'node.drained', target: node, detail: { deadlineS: raw, liveSessions: result.liveSessions } });
        return json(202, result);
      },
    },
  ];
}
