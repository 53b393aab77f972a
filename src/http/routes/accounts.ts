import { verifyAgainstNothing, verifyPassword } from '../../accounts/password.js';
import { audit } from '../../accounts/audit.js';
import { consumeInvite } from '../../accounts/invites.js';
import { rateLimited } from '../../accounts/rate-limit.js';
import { createSession, invalidateSession } from '../../accounts/sessions.js';
import { checkPassword, createUser, findUserByEmail, normaliseEmail, toPublicUser } from '../../accounts/users.js';
import { AppError } from '../../errors.js';
import { usageOf } from '../../lifecycle/usage.js';
import { clearedSessionCookie, cookieSecureFor, isSameOrigin, sessionCookie } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { json, noContent, readJson } from '../respond.js';
import { BAD_REQUEST, errorResp, jsonBody, jsonResponse, obj, ref, UNAUTH } from '../schemas.js';
import type { HttpRequest, Route } from '../types.js';

const BAD_CREDENTIALS = 'Wrong email or password.';
const CLOSED = 'Sign-ups are closed on this server: ask its administrator for an account.';
const INVITE_ONLY = 'Sign-ups need an invite code from an administrator of this server.';

/** Browsers must not be tricked into logging in or registering from another site (login CSRF). */
function refuseForeignBrowser(req: HttpRequest, deps: AppDeps): void {
  if ((req.headers['origin'] !== undefined || req.headers['sec-fetch-site'] !== undefined) && !isSameOrigin(req, deps.config.allowedOrigins, deps.config.trustProxy)) {
    throw new AppError('FORBIDDEN', 'Sign-in requests must come from this site.');
  }
}

export function accountRoutes(deps: AppDeps): Route[] {
  const { db, config } = deps;
  return [
    {
      method: 'POST',
      path: '/api/v1/auth/register',
      access: 'public',
      doc: {
        summary: 'Create an account',
        tags: ['Accounts'],
        requestBody: jsonBody(ref('Credentials')),
        responses: {
          '201': jsonResponse('Created; the account starts with SIGNUP_TOKENS.', obj({ user: ref('User') })),
          ...BAD_REQUEST,
          '403': errorResp('Sign-ups are closed (REGISTRATION=closed), or the invite code is unknown, for another address or used (FORBIDDEN).'),
          '409': errorResp('Email already registered (CONFLICT).'),
          '429': errorResp('Too many sign-ups from this address (RATE_LIMITED); see Retry-After.'),
        },
      },
      handler: async ({ req }) => {
        refuseForeignBrowser(req, deps);
        const { mode } = config.registration;
        if (mode === 'closed') throw new AppError('FORBIDDEN', CLOSED);
        // Counted before any work: a flood from one address gets 429s, and no accounts or tokens.
        const wait = await deps.signupLimit.hit(req.ip);
        if (wait > 0) {
          deps.metrics.rateLimited.inc({ limit: 'sign-up' });
          throw rateLimited('sign-ups from this address', wait);
        }
        const body = readJson(req);
        const user = await createUser(db, {
          email: body['email'],
          password: body['password'],
          initialMilli: config.tokens.initialMilli,
          ...(mode === 'invite'
            ? {
                alongside: async (tx, u) => {
                  await consumeInvite(tx, body['invite'], u.email, u.id);
                  await audit(tx, { actor: { id: u.id, name: u.email }, action: 'invite.used', targetId: u.id, target: u.email });
                },
              }
            : {}),
        });
        deps.logger.info({ userId: user.id }, 'user registered');
        return json(201, { user: toPublicUser(user) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/auth/registration',
      access: 'public',
      doc: {
        summary: 'Who may create an account here',
        description: 'REGISTRATION: `open` (anyone), `invite` (with a one-time code from an admin, as `invite` in the registration), or `closed`. The web app hides its sign-up form when closed and says why.',
        tags: ['Accounts'],
        responses: {
          '200': jsonResponse('The mode', obj({ mode: { type: 'string', enum: ['open', 'invite', 'closed'] }, message: { type: 'string' } }, ['mode'])),
        },
      },
      handler: async () => json(200, { mode: config.registration.mode, ...(config.registration.mode === 'closed' ? { message: CLOSED } : config.registration.mode === 'invite' ? { message: INVITE_ONLY } : {}) }),
    },
    {
      method: 'POST',
      path: '/api/v1/auth/login',
      access: 'public',
      doc: {
        summary: 'Sign in',
        description:
          'Returns a bearer token and sets the HttpOnly session cookie. Unknown email and wrong password give the same 401. ' +
          'Failed attempts are limited per account and address together, and all attempts per address (429 with Retry-After); ' +
          'failures from one address never lock the account for others.',
        tags: ['Accounts'],
        requestBody: jsonBody(ref('Credentials')),
        responses: {
          '200': jsonResponse(
            'Signed in',
            obj({ token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' }, user: ref('User') }),
          ),
          ...BAD_REQUEST,
          '401': errorResp('Wrong email or password (UNAUTHENTICATED).'),
          '403': errorResp('The account is disabled (FORBIDDEN; said only with the right password).'),
          '429': errorResp('Too many attempts (RATE_LIMITED); see Retry-After.'),
        },
      },
      handler: async ({ req }) => {
        refuseForeignBrowser(req, deps);
        const body = readJson(req);
        if (typeof body['email'] !== 'string' || typeof body['password'] !== 'string') {
          throw new AppError('VALIDATION_FAILED', 'email and password are required strings.');
        }
        const email = body['email'].trim().toLowerCase();
        const password = body['password'];
        // Failures count per account *from one address*: someone guessing from elsewhere cannot lock the owner
        // out. Every attempt counts per address, which bounds guessing at many accounts from one place.
        const { perAccount, perAddress } = deps.loginLimits;
        const pair = `${email}\u0000${req.ip}`;
        const wait = Math.max(await perAddress.hit(req.ip), await perAccount.blockedFor(pair));
        if (wait > 0) {
          throw new AppError('RATE_LIMITED', `Too many sign-in attempts; try again in ${wait} s.`, { retryAfterS: wait });
        }
        let valid = false;
        let user;
        try {
          checkPassword(password);
          user = await findUserByEmail(db, normaliseEmail(email));
          valid = user ? await verifyPassword(user.password_hash, password) : await verifyAgainstNothing(password);
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'VALIDATION_FAILED')) throw err;
          await verifyAgainstNothing(password.slice(0, 256)); // same timing and answer as a wrong password
        }
        if (!valid || !user) {
          // The failure that reaches the limit is the burst: later attempts are refused above, before they count.
          if ((await perAccount.take(pair)).count >= perAccount.limit) {
            deps.logger.warn({ email, ip: req.ip, limit: perAccount.limit }, 'failed sign-ins: burst from one address on one account');
            await audit(db, { actor: { name: `address ${req.ip}` }, action: 'login.failed_burst', targetId: user?.id ?? null, target: email.slice(0, 254), detail: { ip: req.ip, failures: perAccount.limit, windowS: Math.round(config.loginLimit.windowMs / 1000) } });
          }
          throw new AppError('UNAUTHENTICATED', BAD_CREDENTIALS);
        }
        await perAccount.reset(pair);
        // Told only to whoever knows the password.
        if (user.disabled_at || user.deleted_at) throw new AppError('FORBIDDEN', 'This account is disabled: ask an administrator.');
        await db.updateTable('users').set({ last_login_at: new Date() }).where('id', '=', user.id).execute();
        const { token, expiresAt } = await createSession(db, user.id, config.sessionTtlDays);
        return json(
          200,
          { token, expiresAt: expiresAt.toISOString(), user: toPublicUser(user) },
          { 'set-cookie': sessionCookie(token, expiresAt, cookieSecureFor(req, config)), 'cache-control': 'no-store' },
        );
      },
    },
    {
      method: 'POST',
      path: '/api/v1/auth/logout',
      access: 'user',
      apiKey: false,
      doc: {
        summary: 'Sign out',
        description: 'Deletes the session: the token and the cookie stop working at once.',
        tags: ['Accounts'],
        responses: { '204': 'Signed out', ...UNAUTH },
      },
      handler: async ({ req, auth }) => {
        await invalidateSession(db, auth!.sessionId);
        return noContent({ 'set-cookie': clearedSessionCookie(cookieSecureFor(req, config)) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/me',
      access: 'user',
      doc: {
        summary: 'The signed-in user',
        tags: ['Accounts'],
        responses: { '200': jsonResponse('The user', obj({ user: ref('User') })), ...UNAUTH },
      },
      handler: async ({ auth }) => json(200, { user: toPublicUser(auth!.user) }),
    },
    {
      method: 'GET',
      path: '/api/v1/me/usage',
      access: 'user',
      doc: {
        summary: 'What you keep on this server',
        description: 'Bytes of uploads, of job results (annotated outputs) and of recordings, and how many live sessions and jobs you have.',
        tags: ['Accounts'],
        responses: {
          '200': jsonResponse(
            'Usage',
            obj({
              storageBytes: obj({ uploads: { type: 'integer' }, results: { type: 'integer' }, recordings: { type: 'integer' } }),
              liveSessions: { type: 'integer' },
              jobs: { type: 'integer' },
            }),
          ),
          ...UNAUTH,
        },
      },
      handler: async ({ auth }) => json(200, await usageOf(db, config.dataDir, auth!.user.id)),
    },
  ];
}
