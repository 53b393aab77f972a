/**
 * Client child of scripts/bench-ws.ts: `client.ts '<ClientConfig JSON>'`. Opens sockets from..to-1 to the hub,
 * each authenticated as user `u<i % users>` (`?user=`), sends `{"type":"subscribe","topic":"jobs"}` on open,
 * then only counts the text frames that arrive (no JSON parsing: byte 9 of a job event is the `j` of
 * `{"type":"job"`) and reports the totals to the parent every 5 ms.
 *
 * Two client implementations (same for both hubs, so the comparison stays fair):
 * - raw (default): net.Socket + a hand-written HTTP/1.1 upgrade and a frame scanner that walks the frame
 *   headers and skips payloads without copying them; answers pings, masks what it sends. The leanest
 *   client we can run in Node, because on 2 cores the clients share the CPUs with the server.
 * - ws: the `ws` package's WebSocket client (perMessageDeflate off, UTF-8 validation off).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { emit, serveParent, SUBSCRIBE_JOBS, userOf, WS_PATH, type ClientConfig, type ClientRequest, type ConnectReply, type CpuReply } from './protocol.js';

const cfg = JSON.parse(process.argv[2] ?? '') as ClientConfig;
const J = 0x6a; // 'j'

let received = 0;
let other = 0;
let closed = 0;

// ---- raw client ----
const KEY = randomBytes(16).toString('base64');
/** A masked client text frame (RFC 6455 §5.3). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error('short frames only');
  const mask = randomBytes(4);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}
const SUBSCRIBE_FRAME = clientFrame(0x1, Buffer.from(SUBSCRIBE_JOBS));
const HEAD_END = Buffer.from('\r\n\r\n');

function connectRaw(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(cfg.port, cfg.host);
    sock.setNoDelay(true);
    let open = false;
    let settled = false;
    let pending: Buffer | undefined; // handshake bytes, or an incomplete frame header / control frame
    let skip = 0; // payload bytes of the current data frame still to skip
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      sock.destroy();
      reject(err);
    };
    sock.once('connect', () => {
      sock.write(
        `GET ${WS_PATH}?user=${userOf(i, cfg.users)} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on('error', (err) => fail(err));
    sock.on('close', () => {
      if (open) closed++;
      else fail(new Error('closed before the upgrade'));
    });
    sock.on('data', (chunk: Buffer) => {
      let b = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      if (!open) {
        const end = b.indexOf(HEAD_END);
        if (end < 0) {
          pending = b;
          return;
        }
        const status = b.toString('latin1', 0, b.indexOf('\r\n'));
        if (!status.startsWith('HTTP/1.1 101')) {
          fail(new Error(`upgrade refused: ${status}`));
          return;
        }
        open = true;
        settled = true;
        sock.write(SUBSCRIBE_FRAME);
        resolve();
        b = b.subarray(end + 4);
      }
      const n = b.length;
      let at = 0;
      while (at < n) {
        if (skip > 0) {
          const k = Math.min(skip, n - at);
          skip -= k;
          at += k;
          continue;
        }
        if (n - at < 2) {
          pending = b.subarray(at);
          return;
        }
        const b0 = b[at]!;
        let len = b[at + 1]! & 0x7f;
        let h = 2;
        if (len === 126) {
          if (n - at < 4) {
            pending = b.subarray(at);
            return;
          }
          len = b.readUInt16BE(at + 2);
          h = 4;
        } else if (len === 127) {
          if (n - at < 10) {
            pending = b.subarray(at);
            return;
          }
          len = Number(b.readBigUInt64BE(at + 2));
          h = 10;
        }
        const op = b0 & 0x0f;
        if (op >= 0x8) {
          // control frame: needed whole
          if (n - at < h + len) {
            pending = b.subarray(at);
            return;
          }
          if (op === 0x9) sock.write(clientFrame(0xa, b.subarray(at + h, at + h + len)));
          else if (op === 0x8) sock.destroy();
          at += h + len;
          continue;
        }
        if (op === 0x1 || op === 0x2) {
          // first frame of a message (0x0 would be a continuation)
          if (n - at > h + 9 && b[at + h + 9] !== J) other++;
          else received++;
        }
        at += h;
        skip = len;
      }
    });
  });
}

// ---- ws client ----
function connectWs(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${cfg.host}:${cfg.port}${WS_PATH}?user=${userOf(i, cfg.users)}`, { perMessageDeflate: false, skipUTF8Validation: true });
    let open = false;
    ws.on('open', () => {
      open = true;
      ws.send(SUBSCRIBE_JOBS);
      resolve();
    });
    ws.on('message', (data: RawData) => {
      if (Buffer.isBuffer(data) && data.length > 9 && data[9] !== J) other++;
      else received++;
    });
    ws.on('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`upgrade refused: ${res.statusCode}`));
    });
    ws.on('error', (err) => {
      if (!open) reject(err);
    });
    ws.on('close', () => {
      if (open) closed++;
    });
  });
}

async function connectAll(): Promise<ConnectReply> {
  const connect = cfg.kind === 'ws' ? connectWs : connectRaw;
  let next = cfg.from;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < cfg.to) {
      const i = next++;
      for (let attempt = 1; ; attempt++) {
        try {
          await connect(i);
          ok++;
          break;
        } catch (err) {
          if (attempt < 3) {
            await new Promise((r) => setTimeout(r, 50 * attempt));
            continue;
          }
          failed++;
          firstError ??= err instanceof Error ? err.message : String(err);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(cfg.concurrency, cfg.to - cfg.from) }, worker));
  return { ok, failed, ...(firstError ? { firstError } : {}) };
}

let last = '';
setInterval(() => {
  const key = `${received}/${other}/${closed}`;
  if (key === last) return;
  last = key;
  emit({ ev: 'progress', received, other, closed });
}, 5);

serveParent<ClientRequest>(async (req) => {
  switch (req.t) {
    case 'connect':
      return connectAll();
    case 'cpu': {
      const cpu = process.cpuUsage();
      return { cpuUs: cpu.user + cpu.system, rss: process.memoryUsage.rss() } satisfies CpuReply;
    }
  }
});
emit({ ev: 'ready', port: 0 });
