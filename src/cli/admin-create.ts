/**
 * npm run admin:create -- --email admin@example.com --password 'a long passphrase'
 * Creates an administrator, or promotes an existing account and sets its password.
 * Uses the same configuration as the server (DATABASE_URL, or the embedded database under DATA_DIR;
 * stop a running server first when using the embedded database).
 */
import { parseArgs } from 'node:util';
import { ensureAdmin } from '../accounts/users.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/connect.js';
import { createLogger } from '../log.js';
import { runCli } from './run.js';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { email: { type: 'string' }, password: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    values = { help: true };
  }
  if (values.help || !values.email || !values.password) {
    process.stderr.write('Usage: npm run admin:create -- --email <email> --password <password>\n');
    return 64;
  }
  const config = loadConfig();
  const logger = createLogger(process.env['LOG_LEVEL'] ?? 'warn');
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger, poolSize: 2 });
  try {
    const { user, created } = await ensureAdmin(database.db, {
      email: values.email,
      password: values.password,
      initialMilli: config.tokens.initialMilli,
      resetPassword: true,
    });
    process.stdout.write(`${created ? 'Created' : 'Updated'} admin ${user.email} (id ${user.id}).\n`);
    return 0;
  } finally {
    await database.close();
  }
}

runCli('admin:create', main);
