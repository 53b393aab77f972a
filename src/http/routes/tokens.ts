import { audit } from '../../accounts/audit.js';
import { findUserByEmail, normaliseEmail, toPublicUser } from '../../accounts/users.js';
import type { LedgerEntry } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { parseTokenAmount, toTokens } from '../../tokens/amount.js';
import { credit, getBalance, listLedger } from '../../tokens/ledger.js';
import type { AppDeps } from '../deps.js';
import { json, limitParam, readJson } from '../respond.js';
import { ADMIN_ONLY, BAD_REQUEST, BALANCE_CHANGED, errorResp, jsonBody, jsonResponse, obj, ref, UNAUTH } from '../schemas.js';
import type { Route } from '../types.js';

const IDEMPOTENCY_KEY = /^[\w.:-]{1,128}$/;

function toPublicEntry(e: LedgerEntry): Record<string, unknown> {
  return {
    id: String(e.id),
    amount: toTokens(e.amount_milli),
    balanceAfter: toTokens(e.balance_after_milli),
    reason: e.reason,
    ref: e.ref,
    ...(e.note ? { note: e.note } : {}),
    createdAt: e.created_at.toISOString(),
  };
}

const pageParams = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
  { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'nextCursor from the previous page' },
];

export function tokenRoutes(deps: AppDeps): Route[] {
  const { db } = deps;
  return [
    {
      method: 'GET',
      path: '/api/v1/tokens',
      access: 'user',
      doc: {
        summary: 'Token balance',
        tags: ['Tokens'],
        responses: { '200': jsonResponse('Balance', obj({ balance: ref('TokenAmount') })), ...UNAUTH },
      },
      handler: async ({ auth }) => json(200, { balance: toTokens(await getBalance(db, auth!.user.id)) }),
    },
    {
      method: 'GET',
      path: '/api/v1/tokens/ledger',
      access: 'user',
      doc: {
        summary: 'Token ledger, newest first',
        tags: ['Tokens'],
        parameters: pageParams,
        responses: {
          '200': jsonResponse(
            'One page of entries',
            obj({ entries: { type: 'array', items: ref('LedgerEntry') }, nextCursor: { type: ['string', 'null'] } }, ['entries']),
          ),
          ...BAD_REQUEST,
          ...UNAUTH,
        },
      },
      handler: async ({ req, auth }) => {
        const limit = limitParam(req);
        const cursor = req.query.get('cursor');
        if (cursor !== null && !/^\d{1,18}$/.test(cursor)) throw new AppError('VALIDATION_FAILED', 'cursor is not valid.');
        const page = await listLedger(db, auth!.user.id, limit, cursor === null ? undefined : Number(cursor));
        return json(200, { entries: page.entries.map(toPublicEntry), nextCursor: page.nextCursor ?? null });
      },
    },
    {
      method: 'POST',
      path: '/api/v1/admin/top-ups',
      access: 'admin',
      doc: {
        summary: "Credit a user's balance",
        description: 'Send an `Idempotency-Key` header to make retries safe: the same key credits once.',
        tags: ['Admin'],
        parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 128 } }],
        requestBody: jsonBody(obj({ email: { type: 'string', format: 'email' }, amount: { type: 'number', exclusiveMinimum: 0, multipleOf: 0.001 } })),
        responses: {
          '200': jsonResponse('Credited (or already credited under this key)', BALANCE_CHANGED.answer),
          ...BAD_REQUEST,
          ...ADMIN_ONLY,
          ...BALANCE_CHANGED.noUser,
          '409': errorResp('Idempotency-Key reused for a different user (CONFLICT).'),
        },
      },
      handler: async ({ req, auth }) => {
        const body = readJson(req);
        const email = normaliseEmail(body['email']);
        const amountMilli = typeof body['amount'] === 'number' ? parseTokenAmount(body['amount']) : undefined;
        if (amountMilli === undefined || amountMilli <= 0) {
          throw new AppError('VALIDATION_FAILED', 'amount must be a number greater than 0 with at most 3 decimals.');
        }
        const key = req.headers['idempotency-key'];
        if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
          throw new AppError('VALIDATION_FAILED', 'Idempotency-Key must be 1–128 characters of letters, digits, _ . : -');
        }
        const user = await findUserByEmail(db, email);
        if (!user) throw new AppError('NOT_FOUND', 'No user with that email.');
        const result = await credit(db, {
          userId: user.id,
          amountMilli,
          reason: 'top_up',
          ref: `admin:${auth!.user.id}`,
          key: key === undefined ? null : `topup:${auth!.user.id}:${key}`,
          alongside: (tx, balanceMilli) =>
            audit(tx, { actor: { id: auth!.user.id, name: auth!.user.email }, action: 'tokens.top_up', targetId: user.id, target: user.email, detail: { amount: toTokens(amountMilli), balance: toTokens(balanceMilli) } }),
        });
        deps.logger.info({ adminId: auth!.user.id, userId: user.id, amountMilli, applied: result.applied }, 'top-up');
        return json(200, { email: user.email, balance: toTokens(result.balanceMilli) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/admin/users/:id/ledger',
      access: 'admin',
      doc: {
        summary: "A user's token ledger",
        tags: ['Admin'],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }, ...pageParams],
        responses: {
          '200': jsonResponse('One page of entries', obj({ entries: { type: 'array', items: ref('LedgerEntry') }, nextCursor: { type: ['string', 'null'] } }, ['entries'])),
          ...ADMIN_ONLY,
          '404': errorResp('No such user (NOT_FOUND).'),
        },
      },
      handler: async ({ req, params }) => {
        const id = params['id']!;
        if (!/^[0-9a-f-]{36}$/i.test(id)) throw new AppError('NOT_FOUND', 'User not found.');
        const limit = limitParam(req);
        const cursor = req.query.get('cursor');
        if (cursor !== null && !/^\d{1,18}$/.test(cursor)) throw new AppError('VALIDATION_FAILED', 'cursor is not valid.');
        await getBalance(db, id); // NOT_FOUND for an unknown user
        const page = await listLedger(db, id, limit, cursor === null ? undefined : Number(cursor));
        return json(200, { entries: page.entries.map(toPublicEntry), nextCursor: page.nextCursor ?? null });
      },
    },
  ];
}

export { toPublicUser };
