import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

export interface Spawned {
  readonly child: ChildProcess;
  /** Signals the whole process group (tsx runs the entry in a child process of its own). */
  kill(signal: NodeJS.Signals): void;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Collects a child's output and exit; `kill` is how to signal it. */
function tracked(child: ChildProcess, kill: (signal: NodeJS.Signals) => void): Spawned {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, kill, output: () => out, exited };
}

/** Runs a TypeScript entry point of the project as its own process (as `npm start` would, via tsx). */
export function spawnTs(entry: string, args: string[], env: Record<string, string | undefined>): Spawned {
  const child = spawn(TSX, [path.join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HTTPS_PORT: '0', SIGNUP_MAX_PER_ADDRESS: '100000', DRAIN_TIMEOUT_S: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so kill() reaches tsx's child too
  });
  return tracked(child, (signal) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  });
}

/** Polls `url` until it answers 200 or the time is up. */
export async function waitFor200(url: string, ms: number, proc?: Spawned): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.status === 200) return Date.now() - start;
    } catch {
      // not listening yet
    }
    if (proc && proc.child.exitCode !== null) throw new Error(`process exited early:\n${proc.output()}`);
    if (Date.now() - start > ms) throw new Error(`${url} not 200 after ${ms} ms:\n${proc?.output() ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/**
 * Runs a TypeScript entry point in one Node process (`node --import tsx`), so a signal reaches the program
 * itself and nothing else (spawnTs's tsx wrapper would relay it a second time).
 */
export function spawnNode(entry: string, args: string[], env: Record<string, string | undefined>): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HTTPS_PORT: '0', SIGNUP_MAX_PER_ADDRESS: '100000', DRAIN_TIMEOUT_S: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return tracked(child, (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
