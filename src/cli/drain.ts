/**
 * Drains the server running beside it and waits, for a Kubernetes preStop hook: sends SIGUSR2 to the server
 * (PID 1 in the container, or --pid), then watches its /health until it runs no live session or
 * DRAIN_TIMEOUT_S has passed. The server's own SIGTERM handling then finds nothing left to wait for.
 *
 *   node dist/src/cli/drain.js [--pid 1]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { runCli } from './run.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { pid: { type: 'string', default: '1' } } });
  const config = loadConfig(process.env);
  const pid = Number(values.pid);
  process.kill(pid, 'SIGUSR2');
  const health = `http://127.0.0.1:${config.port}/api/v1/health`;
  const deadline = Date.now() + config.drainTimeoutS * 1000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const body = (await fetch(health, { signal: AbortSignal.timeout(2000) }).then((r) => r.json(), () => undefined)) as
      | { status?: string; cluster?: { node: string; nodes: { id: string; liveSessions: number }[] } }
      | undefined;
    if (!body) continue;
    const self = body.cluster?.nodes.find((n) => n.id === body.cluster?.node);
    if (body.status === 'draining' && self?.liveSessions === 0) break;
  }
  return 0;
}

runCli('drain', main);
