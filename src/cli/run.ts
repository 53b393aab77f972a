/** Runs a command-line tool's main: exits with its code, or prints `<name> failed: <why>` and exits with 1. */
import { ConfigError } from '../config.js';
import { AppError } from '../errors.js';

export function runCli(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      // Our own errors are sentences for the operator; anything else gets its stack.
      const msg = err instanceof AppError || err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`${name} failed: ${msg}\n`);
      process.exit(1);
    },
  );
}
