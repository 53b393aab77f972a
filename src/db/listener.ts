/**
 * Events between processes over PostgreSQL NOTIFY: whoever changes something sends `pg_notify(channel, json)`
 * (delivered when its transaction commits), and every server LISTENs here on a dedicated connection and hands
 * each payload to the channel's handler. The database is the one thing every process shares, whatever the
 * queue backend. The connection is re-opened when it drops; events sent while it was down are lost, so each
 * channel's users also have a slower way to catch up (the next job progress event, the socket sweep).
 */
import pg from 'pg';
import { sql } from 'kysely';
import type { DbOrTx } from './schema.js';
import type { Logger } from '../log.js';

/** Sends `event` on `channel` to every listening process, when the surrounding transaction commits. */
export async function notify(db: DbOrTx, channel: string, event: unknown): Promise<void> {
  await sql`select pg_notify(${channel}, ${JSON.stringify(event)})`.execute(db);
}

export class NotifyListener {
  #client: pg.Client | undefined;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    /** Channel name (a plain SQL identifier) → what to do with each event's parsed payload. */
    private readonly handlers: Readonly<Record<string, (event: unknown) => void>>,
    private readonly logger: Logger,
  ) {
    for (const channel of Object.keys(handlers)) if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  }

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'lookout-events' });
    client.on('notification', (n) => {
      const handler = this.handlers[n.channel];
      if (!handler || !n.payload) return;
      try {
        handler(JSON.parse(n.payload));
      } catch (err) {
        this.logger.warn({ err, channel: n.channel }, 'bad event');
      }
    });
    client.on('error', (err) => {
      this.logger.warn({ err: err.message }, 'event connection lost; reconnecting');
      this.#reconnect(client);
    });
    client.on('end', () => this.#reconnect(client));
    await client.connect();
    for (const channel of Object.keys(this.handlers)) await client.query(`LISTEN ${channel}`);
    this.#client = client;
  }

  #reconnect(client: pg.Client): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    void client.end().catch(() => undefined);
    this.#retry = setTimeout(() => {
      this.start().catch((err: unknown) => {
        this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'event connection failed; retrying');
        this.#client = client; // so the next failure schedules another try
        this.#reconnect(client);
      });
    }, 1000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    const c = this.#client;
    this.#client = undefined;
    await c?.end().catch(() => undefined);
  }
}
