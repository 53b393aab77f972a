/** A real HTTP receiver for webhook tests: records every request and answers as the test says. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
  readonly path: string;
}

export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  /** How to answer the n-th request (0-based): a status, or 'hang' to never answer. */
  answer: (n: number, r: Received) => number | 'hang';
  /** Waits until `pred` holds over what was received. */
  until(pred: (r: Received[]) => boolean, ms?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startReceiver(answer: Receiver['answer'] = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const r: Partial<Receiver> & { answer: Receiver['answer'] } = { answer };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), path: req.url ?? '' };
      const n = received.length;
      received.push(rec);
      const a = r.answer(n, rec);
      if (a === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(a, { 'content-type': 'text/plain' }).end(String(a));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const self: Receiver = Object.assign(r, {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    until: async (pred: (x: Received[]) => boolean, ms = 30_000) => {
      const end = Date.now() + ms;
      while (!pred(received)) {
        if (Date.now() > end) throw new Error(`receiver: condition not met in ${ms} ms; got ${received.length}: ${received.map((x) => x.body.slice(0, 120)).join(' | ')}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      return received;
    },
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return self;
}
