/** Reading GET /metrics in tests. */
import type { TestServer } from './server.js';

/** Parses the exposition text into "name{labels}" → value (labels as written, sorted by prom-client). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** after − before for one series (0 when absent). */
export const metricDelta = (before: Map<string, number>, after: Map<string, number>, key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);

/** GET /metrics, parsed; throws unless it answers 200. */
export async function scrapeMetrics(s: TestServer, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const res = await s.call('GET', '/metrics', { headers });
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
  return parseMetrics(await res.text());
}
