/**
 * A server that was only slow: while its session runs, another server (here: the same call a cluster peer makes,
 * closeLostSessions for this node) ends it as server_lost and settles it. The slow server must notice on its
 * next heartbeat, stop the session, tell its client, and charge nothing more: the ledger keeps exactly what the
 * row records, and what it reserved after the takeover goes back. Real server, werift peer and ffmpeg; the
 * takeover is the real repository function the lost-server path runs (no second server is needed for it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { streamFile } from '../../../src/live/client/stream.js';
import { closeLostSessions } from '../../../src/live/repo.js';
import type { LiveSessionRow } from '../../../src/db/schema.js';
import { useLiveServer } from '../../helpers/live.js';
import { signUp, type TestServer } from '../../helpers/server.js';

const live = useLiveServer({ clipSeconds: 20, env: { INITIAL_TOKENS: '100' } });
let s: TestServer;
beforeAll(() => {
  ({ server: s } = live());
});

describe('a slow server whose session another server took over', () => {
  it('stops the session as server_lost, charges nothing more, and gives back what it reserved since', async () => {
    const u = await signUp(s);
    const db = s.app.database.db;
    let taken: Promise<LiveSessionRow[]> | undefined;
    const sum = await streamFile({
      server: s.url, token: u.token, file: live().clip, codec: 'vp8', fps: 15, model: 'blazeface', record: false, durationS: 12,
      onMessage: (m) => {
        if (m.type === 'detections' && m.frame >= 30) taken ??= closeLostSessions(db, s.app.deps.config.nodeId);
      },
    });
    const rows = await taken!;
    expect(rows).toHaveLength(1);
    const id = rows[0]!.id;
    // The session noticed at its next heartbeat (about a second) and ended, well before its 12 s of media.
    expect(sum.ended?.reason).toBe('server_lost');
    expect(s.app.deps.live.count).toBe(0);

    const row = await db.selectFrom('live_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ state: 'ended', end_reason: 'server_lost' });
    expect(row.tokens_charged_milli).toBe(row.frames_processed * 500);
    const hold = await db.selectFrom('token_reservations').selectAll().where('ref', '=', `live:${id}`).executeTakeFirstOrThrow();
    expect(hold.charged_milli).toBe(row.tokens_charged_milli); // nothing charged after the takeover
    expect(hold.held_milli - hold.charged_milli - hold.refunded_milli).toBe(0); // nothing left held
    const balance = ((await (await s.call('GET', '/api/v1/tokens', { token: u.token })).json()) as { balance: number }).balance;
    expect(balance).toBe(100 - row.tokens_charged_milli / 1000);
  }, 90_000);
});
