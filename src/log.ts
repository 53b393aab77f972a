import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line. */
const REDACT = [
  'password',
  '*.password',
  'token',
  '*.token',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'databaseUrl',
  'redisUrl',
  'admin.password',
];

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * JSON lines, for log collectors; or readable lines (pino-pretty, in a worker thread) for a person at a terminal.
 * `auto` picks readable when stdout is a terminal and JSON otherwise.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'lookout' } };
  const pretty = destination === undefined && (format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true));
  if (pretty) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } }));
  }
  return pino(options, destination);
}

/** Replaces the password in a connection URL so it can be logged. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
