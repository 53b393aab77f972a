/**
 * Stored live detections, end to end: the repository's client streams a 10 s clip to the real server; the
 * frames stored match, frame by frame, the detections the client received; pages, NDJSON and CSV read them
 * back; `store: false` (WS and WHIP) keeps none; another user gets 404.
 */
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { streamFile } from '../../../src/live/client/stream.js';
import { useLiveServer } from '../../helpers/live.js';
import { signUp } from '../../helpers/server.js';

const live = useLiveServer({ clipSeconds: 10, env: { INITIAL_TOKENS: '1000' } });

interface Frame {
  t: number;
  frame: number;
  rtpTimestamp: number;
  objects: { label: string; score: number; box: number[]; trackId?: number }[];
}

describe('stored live detections', () => {
  it('a 10 s session: what is stored is what the client received, frame by frame; pages, NDJSON and CSV agree', async () => {
    const { server: s, clip } = live();
    const { token } = await signUp(s);
    const sum = await streamFile({ server: s.url, token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: false });
    expect(sum.detections.length).toBeGreaterThan(100);
    const path = `/api/v1/live-sessions/${sum.sessionId}/detections`;
    // Pages of 40, following `next`.
    const paged: Frame[] = [];
    let after: string | undefined = '0';
    let pages = 0;
    while (after !== undefined) {
      const res = await s.call('GET', `${path}?after=${after}&limit=40`, { token });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { frames: Frame[]; next?: string };
      paged.push(...page.frames);
      after = page.next;
      pages++;
    }
    expect(pages).toBe(Math.floor(sum.detections.length / 40) + 1);
    expect(paged.map((f) => f.frame)).toEqual(sum.detections.map((d) => d.frame));
    for (const [i, d] of sum.detections.entries()) {
      const f = paged[i]!;
      expect(f.rtpTimestamp).toBe(d.rtpTimestamp);
      expect(f.objects).toEqual(d.objects);
    }
    // t: the video clock since the first frame (15 fps: about 66.7 ms per frame), rising.
    const firstRtp = sum.rtpTimestampsSent[0]!;
    for (const f of paged) expect(f.t).toBeCloseTo(((f.rtpTimestamp - firstRtp) >>> 0) / 90, 0);
    expect(paged.at(-1)!.t).toBeGreaterThan(9000);
    // NDJSON, by Accept header: every frame, one per line.
    const nd = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/x-ndjson' } });
    expect(nd.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await nd.text()).trim().split('\n').map((l) => JSON.parse(l) as Frame);
    expect(lines).toEqual(paged);
    // CSV: one row per object.
    const csv = await s.call('GET', `${path}?format=csv`, { token });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = parse<Record<string, string>>(await csv.text(), { columns: true });
    const objects = paged.flatMap((f) => f.objects.map((o) => ({ f, o })));
    expect(rows).toHaveLength(objects.length);
    expect(rows.length).toBeGreaterThan(50);
    expect(rows[0]).toMatchObject({ frame: String(objects[0]!.f.frame), label: 'face', x1: String(objects[0]!.o.box[0]) });
    const session = (await (await s.call('GET', `/api/v1/live-sessions/${sum.sessionId}`, { token })).json()) as { session: { storesDetections: boolean } };
    expect(session.session.storesDetections).toBe(true);
    const other = await signUp(s);
    expect((await s.call('GET', path, { token: other.token })).status).toBe(404);
    expect((await s.call('GET', `${path}?format=xml`, { token })).status).toBe(400);
    expect((await s.call('GET', `${path}?limit=5000`, { token })).status).toBe(400);
  }, 120_000);

  it('store: false keeps nothing, over the WebSocket and over WHIP', async () => {
    const { server: s, clip } = live();
    const { token } = await signUp(s);
    for (const whip of [false, true]) {
      const sum = await streamFile({ server: s.url, token, file: clip, codec: 'vp8', fps: 15, model: 'blazeface', record: false, store: false, whip, durationS: 2 });
      expect(sum.detections.length).toBeGreaterThan(5);
      const page = (await (await s.call('GET', `/api/v1/live-sessions/${sum.sessionId}/detections`, { token })).json()) as { frames: Frame[] };
      expect(page.frames).toEqual([]);
      const count = await s.app.deps.db.selectFrom('live_detections').select((eb) => eb.fn.countAll<string>().as('n')).where('session_id', '=', sum.sessionId).executeTakeFirstOrThrow();
      expect(Number(count.n)).toBe(0);
    }
  }, 120_000);
});
