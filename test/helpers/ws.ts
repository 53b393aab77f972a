/** A WebSocket client for tests: an inbox to wait on, and the close code and reason when the server closes it. */
import WebSocket from 'ws';

export interface TestSocket {
  readonly ws: WebSocket;
  readonly inbox: Record<string, unknown>[];
  /** Resolves with the close code and reason, whoever closed it. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(m: unknown): void;
  /** Takes the first message matching `pred` out of the inbox, waiting up to `ms` for one. */
  next(pred?: (m: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  close(): void;
}

export async function openSocket(baseUrl: string, token: string | undefined, headers: Record<string, string> = {}): Promise<TestSocket> {
  const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/api/v1/ws', {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  const inbox: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  ws.on('message', (data: Buffer) => {
    inbox.push(JSON.parse(data.toString()) as Record<string, unknown>);
    wake();
  });
  let closedWith: { code: number; reason: string } | undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      closedWith = { code, reason: reason.toString() };
      resolve(closedWith);
      wake();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  return {
    ws,
    inbox,
    closed,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    close: () => ws.close(),
    next: async (pred = () => true, ms = 10_000) => {
      const start = Date.now();
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        if (closedWith) throw new Error(`the socket closed (${closedWith.code} ${closedWith.reason}) with no matching message; got ${inbox.length}, the last: ${JSON.stringify(inbox.slice(-3))}`);
        if (Date.now() - start > ms) {
          // Timers run before sockets are read: after a long stall of this process, read what has arrived first.
          await new Promise((r) => setImmediate(r));
          const j = inbox.findIndex(pred);
          if (j >= 0) return inbox.splice(j, 1)[0]!;
          throw new Error(`no matching message in ${ms} ms; got ${inbox.length}, the last: ${JSON.stringify(inbox.slice(-3))}`);
        }
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
  };
}

/** Resolves with the close, or rejects when the socket is still open after `ms`. */
export async function closedWithin(s: TestSocket, ms: number): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      s.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the socket was still open after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
