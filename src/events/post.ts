/**
 * One delivery attempt: a POST to the address the SSRF guard checked (the connection's `lookup` answers with
 * it, whatever DNS says now; TLS still verifies the certificate against the URL's host name), within a total
 * deadline, following no redirects. The answer's body is read (up to 64 KiB, then dropped) and discarded.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Target } from './ssrf.js';

export interface AttemptResult {
  /** The HTTP status, when an answer came. */
  readonly statusCode?: number;
  /** Why no 2xx answer came: a status line, a timeout or a connection error. */
  readonly error?: string;
  readonly ok: boolean;
}

const MAX_ANSWER_BYTES = 64 * 1024;

export function postOnce(target: Target, headers: Record<string, string>, body: string, timeoutMs: number): Promise<AttemptResult> {
  const pinned: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const client = target.url.protocol === 'https:' ? https : http;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const done = (r: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = client.request(
      target.url,
      {
        method: 'POST',
        lookup: pinned,
        agent: false, // a fresh connection each time: a pooled one could be to an address checked earlier
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Lookout-Webhooks/1' },
      },
      (res) => {
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > MAX_ANSWER_BYTES) res.destroy();
        });
        const status = res.statusCode ?? 0;
        const finish = (): void =>
          done(status >= 200 && status < 300 ? { ok: true, statusCode: status } : { ok: false, statusCode: status, error: `answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}` });
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      },
    );
    const timer = setTimeout(() => {
      done({ ok: false, error: `no answer within ${timeoutMs / 1000} s` });
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => done({ ok: false, error: err.message }));
    req.end(body);
  });
}
