/**
 * npm run admin -- <command> [options]: what the web app's admin pages do, for operators on the server's machine.
 * Same configuration as the server (DATABASE_URL, or the embedded database under DATA_DIR: stop a running
 * server first when using the embedded one). Actions are recorded in the audit log as `cli:<os user>`; servers
 * sharing the database hear of disabled and deleted accounts and end their sockets and live sessions.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { adjustBalance } from '../accounts/adjust.js';
import { listUsersPage, updateUser, type AdminUser } from '../accounts/admin-users.js';
import { audit, listAudit, type Actor } from '../accounts/audit.js';
import { createInvite } from '../accounts/invites.js';
import { findUserByEmail, normaliseEmail } from '../accounts/users.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/connect.js';
import type { Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import { deleteUser } from '../lifecycle/delete-user.js';
import { createLogger } from '../log.js';
import { runCli } from './run.js';

const USAGE = `Usage: npm run admin -- <command> [options]
  users [--query TEXT] [--limit N] [--cursor C]   list users (oldest first), searching emails
  set-role --email E --role user|admin            change a role
  disable --email E | enable --email E            disable (ends sign-ins, sockets, live sessions, API keys) or enable
  delete --email E --yes                          delete a user with their data and files (the ledger stays, anonymised)
  adjust --email E --amount=N --reason TEXT --key K
                                                  correct a balance (--amount=-5 takes 5 tokens away; never below
                                                  zero); the same --key again applies once
  invite --email E                                a one-time invite code (REGISTRATION=invite)
  audit [--limit N] [--cursor C]                  the audit log, newest first
`;

const options = {
  query: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  email: { type: 'string' },
  role: { type: 'string' },
  amount: { type: 'string' },
  reason: { type: 'string' },
  key: { type: 'string' },
  yes: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

class Usage extends Error {}

function need(v: string | undefined, name: string): string {
  if (v === undefined || v === '') throw new Usage(`--${name} is required.`);
  return v;
}

function limitOf(v: string | undefined): number {
  const n = v === undefined ? 50 : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Usage('--limit must be a whole number from 1 to 200.');
  return n;
}

const userLine = (u: AdminUser): string =>
  [u.email.padEnd(32), u.role.padEnd(5), String(u.balance).padStart(12), u.disabled ? 'disabled' : 'active  ', u.createdAt, u.lastLoginAt ?? '-'].join('  ');

async function idOf(db: Db, email: string | undefined): Promise<string> {
  const user = await findUserByEmail(db, normaliseEmail(need(email, 'email')));
  if (!user || user.deleted_at) throw new AppError('NOT_FOUND', 'No user with that email.');
  return user.id;
}

async function run(command: string, v: Values, db: Db, actor: Actor, out: (s: string) => void): Promise<void> {
  const config = loadConfig();
  switch (command) {
    case 'users': {
      const page = await listUsersPage(db, { ...(v.query ? { query: v.query } : {}), ...(v.cursor ? { cursor: v.cursor } : {}), limit: limitOf(v.limit) });
      out(['email'.padEnd(32), 'role ', 'balance'.padStart(12), 'state   ', 'created'.padEnd(24), 'last sign-in'].join('  '));
      for (const u of page.users) out(userLine(u));
      out(page.next ? `more: --cursor ${page.next}` : `${page.users.length} shown, no more`);
      return;
    }
    case 'set-role': {
      const role = need(v.role, 'role');
      out(userLine(await updateUser(db, actor, await idOf(db, v.email), { role })));
      return;
    }
    case 'disable':
    case 'enable':
      out(userLine(await updateUser(db, actor, await idOf(db, v.email), { disabled: command === 'disable' })));
      return;
    case 'delete': {
      if (!v.yes) throw new Usage('Deleting removes the user’s data and files for good: add --yes.');
      await deleteUser(db, config, createLogger('warn'), actor, await idOf(db, v.email));
      out(`Deleted ${normaliseEmail(v.email)}.`);
      return;
    }
    case 'adjust': {
      const amount = Number(need(v.amount, 'amount'));
      const r = await adjustBalance(db, actor, { email: need(v.email, 'email'), amount, reason: need(v.reason, 'reason') }, need(v.key, 'key'));
      out(`${r.applied ? 'Adjusted' : 'Already adjusted under this key'}: ${r.email} now has ${r.balance} tokens.`);
      return;
    }
    case 'invite': {
      const email = normaliseEmail(need(v.email, 'email'));
      const invite = await db.transaction().execute(async (tx) => {
        const created = await createInvite(tx, email, undefined);
        await audit(tx, { actor, action: 'invite.created', target: email, detail: { inviteId: created.id } });
        return created;
      });
      out(`Invite for ${email}: ${invite.code}`);
      return;
    }
    case 'audit': {
      const cursor = v.cursor;
      if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw new Usage('--cursor is the number printed after "more:".');
      const page = await listAudit(db, limitOf(v.limit), cursor === undefined ? undefined : Number(cursor));
      for (const e of page.entries) out([e.createdAt, e.actor, e.action, e.target ?? '-', JSON.stringify(e.detail)].join('  '));
      out(page.next ? `more: --cursor ${page.next}` : `${page.entries.length} shown, no more`);
      return;
    }
    default:
      throw new Usage(`Unknown command "${command}".`);
  }
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ options, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 64;
  }
  const [command] = parsed.positionals;
  if (parsed.values.help || !command || parsed.positionals.length > 1) {
    process.stderr.write(USAGE);
    return 64;
  }
  const config = loadConfig();
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger: createLogger(process.env['LOG_LEVEL'] ?? 'warn'), poolSize: 2 });
  try {
    await run(command, parsed.values, database.db, { name: `cli:${os.userInfo().username}` }, (s) => process.stdout.write(`${s}\n`));
    return 0;
  } catch (err) {
    if (err instanceof Usage) {
      process.stderr.write(`${err.message}\n${USAGE}`);
      return 64;
    }
    throw err;
  } finally {
    await database.close();
  }
}

runCli('admin', main);
