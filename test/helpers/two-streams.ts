/**
 * Two real WebRTC streams on NanoDet at once, one showing a face and one a cat, and the check that each session
 * got the detections of its own picture, in frame order: what the live tests of several sessions sharing one
 * model (batching, model workers) hold the server to.
 */
import path from 'node:path';
import { beforeAll, expect } from 'vitest';
import { streamFile, type ServerMessage, type StreamSummary } from '../../src/live/client/stream.js';
import { useLiveServer } from './live.js';
import { makeCatClip } from './media.js';
import { metricDelta, scrapeMetrics } from './metrics.js';
import { signUp, type TestServer } from './server.js';

export interface TwoStreams {
  face: StreamSummary;
  cat: StreamSummary;
  /** How often each label came back to each session. */
  labels: { face: Map<string, number>; cat: Map<string, number> };
  /** The frame numbers of each session's detections, in the order they came. */
  frames: { face: number[]; cat: number[] };
}

/** A live test server started with `env` for the test file, and the face and cat clips (6 s each) to stream to it. */
export function useTwoStreamServer(env: Record<string, string>): () => { server: TestServer; clips: { face: string; cat: string } } {
  const live = useLiveServer({ clipSeconds: 6, env });
  let made: { server: TestServer; clips: { face: string; cat: string } } | undefined;
  beforeAll(async () => {
    const f = live();
    const cat = path.join(f.tmp, 'cat.mp4');
    await makeCatClip(cat, 6);
    made = { server: f.server, clips: { face: f.clip, cat } };
  }, 120_000);
  return () => {
    if (!made) throw new Error('useTwoStreamServer: the server is not up (used outside a test?)');
    return made;
  };
}

export async function streamFaceAndCat(s: TestServer, token: string, clips: { face: string; cat: string }, durationS = 5): Promise<TwoStreams> {
  const labels = { face: new Map<string, number>(), cat: new Map<string, number>() };
  const frames = { face: [] as number[], cat: [] as number[] };
  const stream = (which: 'face' | 'cat'): Promise<StreamSummary> =>
    streamFile({
      server: s.url,
      token,
      file: clips[which],
      codec: 'vp8',
      fps: 30,
      model: 'nanodet',
      record: false,
      durationS,
      onMessage: (m: ServerMessage) => {
        if (m.type !== 'detections') return;
        frames[which].push(m.frame);
        for (const o of m.objects) labels[which].set(o.label, (labels[which].get(o.label) ?? 0) + 1);
      },
    });
  const [face, cat] = await Promise.all([stream('face'), stream('cat')]);
  return { face, cat, labels, frames };
}

/**
 * Each session saw its own picture, frame after frame. A result given to the wrong session would put the other
 * picture's label in about half of the frames; NanoDet's rare false positive (a "person" in the cat photo once in
 * a while) stays far below that.
 */
export function expectOwnPictures(r: TwoStreams): void {
  expect(r.face.errors).toEqual([]);
  expect(r.cat.errors).toEqual([]);
  const nFace = r.face.ended!.stats.framesProcessed;
  const nCat = r.cat.ended!.stats.framesProcessed;
  expect(nFace).toBeGreaterThan(3);
  expect(nCat).toBeGreaterThan(3);
  const seen = (which: 'face' | 'cat', label: string): number => r.labels[which].get(label) ?? 0;
  const report = JSON.stringify({ face: [...r.labels.face], cat: [...r.labels.cat], nFace, nCat });
  expect(seen('face', 'person'), report).toBeGreaterThan(nFace / 2);
  expect(seen('cat', 'cat'), report).toBeGreaterThan(nCat / 2);
  expect(seen('face', 'cat'), report).toBeLessThanOrEqual(nFace / 10);
  expect(seen('cat', 'person'), report).toBeLessThanOrEqual(nCat / 10);
  for (const f of [r.frames.face, r.frames.cat]) expect(f).toEqual([...f].sort((a, b) => a - b));
}

/**
 * A new user streams the face and the cat at once; each session must get its own pictures (expectOwnPictures).
 * Gives the frames processed in all and what each metric of the server moved by meanwhile.
 */
export async function twoStreamRun(s: TestServer, clips: { face: string; cat: string }): Promise<{ processed: number; delta: (key: string) => number }> {
  const u = await signUp(s);
  const before = await scrapeMetrics(s);
  const r = await streamFaceAndCat(s, u.token, clips);
  expectOwnPictures(r);
  const after = await scrapeMetrics(s);
  return { processed: r.face.ended!.stats.framesProcessed + r.cat.ended!.stats.framesProcessed, delta: (key) => metricDelta(before, after, key) };
}
