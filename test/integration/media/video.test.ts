/**
 * Video probing, decoding and annotated encoding against real clips made here with ffmpeg (testsrc2,
 * 150 frames at 30 fps, 320x240, in each container), truncated copies of them, and non-videos.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/errors.js';
import type { Detection } from '../../../src/inference/types.js';
import { resolveFfmpeg } from '../../../src/media/ffmpeg.js';
import { resolveFfprobe } from '../../../src/media/ffprobe.js';
import { sniffMedia, type VideoType } from '../../../src/media/sniff.js';
import { FramePool } from '../../../src/media/frame-pool.js';
import { AnnotatedVideoWriter, probeVideo, readVideoFrames, type VideoLimits } from '../../../src/media/video.js';

const run = promisify(execFile);
const LIMITS: VideoLimits = { timeoutMs: 60_000, maxFrames: 10_000, maxPixels: 4096 * 4096 };
const W = 320;
const H = 240;

let dir: string;
let ffmpegPath: string;
let ffprobePath: string;
const file = (name: string): string => path.join(dir, name);

/** Makes a clip with the system ffmpeg, as test/helpers/media.ts does. */
async function make(name: string, args: string[], frames = 150): Promise<void> {
  const source = ['-f', 'lavfi', '-i', `testsrc2=size=${W}x${H}:rate=30`, '-frames:v', String(frames)];
  await run(process.env['FFMPEG_PATH'] || 'ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...source, ...args, file(name)], { timeout: 60_000 });
}

/** Copies the first `fraction` of a file's bytes. */
async function cut(from: string, to: string, fraction: number): Promise<void> {
  const bytes = await readFile(file(from));
  await writeFile(file(to), bytes.subarray(0, Math.floor(bytes.length * fraction)));
}

/** Our ffmpeg/ffprobe children still alive (or not yet reaped). */
async function leftovers(): Promise<string[]> {
  const { stdout } = await run('ps', ['--ppid', String(process.pid), '-o', 'pid=,comm=']).catch(() => ({ stdout: '' })); // exit 1: no rows
  return stdout.split('\n').filter((l) => /ffmpeg|ffprobe/.test(l));
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  if (!isAppError(e)) throw new Error(`expected an AppError, got ${String(e)}`);
  return { code: e.code, message: e.message };
}

const probe = (name: string, format: VideoType, limits: Partial<VideoLimits> = {}): Promise<unknown> => probeVideo(file(name), format, { ...LIMITS, ...limits }, { ffprobePath });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-video-'));
  ffmpegPath = (await resolveFfmpeg({ envPath: process.env['FFMPEG_PATH'] })).path;
  ffprobePath = (await resolveFfprobe({ envPath: process.env['FFPROBE_PATH'], ffmpegPath })).path;
  const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
  await Promise.all([
    make('plain.mp4', x264),
    make('fast.mp4', [...x264, '-movflags', '+faststart']),
    make('clip.mov', x264),
    make('clip.mkv', x264),
  ]);
  await Promise.all([make('clip.webm', ['-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '300k']), make('clip.avi', ['-c:v', 'mjpeg', '-q:v', '8'])]);
  await make('long.mp4', x264, 900);
  await Promise.all([cut('fast.mp4', 'cut-fast.mp4', 0.6), cut('plain.mp4', 'cut-plain.mp4', 0.6), cut('clip.webm', 'cut.webm', 0.6)]);
  await writeFile(file('page.html'), '<!DOCTYPE html>\n<html><head><title>x</title></head><body>not a video</body></html>\n');
  await run(process.env['FFMPEG_PATH'] || 'ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=d=0.2', '-c:a', 'pcm_s16le', file('audio.mkv')]);
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('resolveFfprobe', () => {
  it('prefers the ffprobe beside ffmpeg, and refuses a broken FFPROBE_PATH', async () => {
    const real = await resolveFfprobe({ envPath: ffprobePath, fresh: true });
    expect(real).toMatchObject({ path: ffprobePath, source: 'env' });
    expect(real.version).toBeTruthy();
    const bin = path.join(dir, 'bin');
    await run('mkdir', ['-p', bin]);
    await symlink(ffprobePath.includes('/') ? ffprobePath : (await run('which', [ffprobePath])).stdout.trim(), path.join(bin, 'ffprobe'));
    expect(await resolveFfprobe({ ffmpegPath: path.join(bin, 'ffmpeg'), fresh: true })).toMatchObject({ path: path.join(bin, 'ffprobe'), source: 'sibling' });
    expect((await resolveFfprobe({ ffmpegPath: path.join(dir, 'ffmpeg'), fresh: true })).source).toMatch(/^(system|bundled)$/);
    await expect(resolveFfprobe({ envPath: path.join(dir, 'nope'), fresh: true })).rejects.toThrow(/FFPROBE_PATH/);
  });
});

describe('probeVideo', () => {
  it('counts the frames of every container exactly', async () => {
    const cases: [string, VideoType, string][] = [
      ['plain.mp4', 'mp4', 'h264'], ['fast.mp4', 'mp4', 'h264'], ['clip.mov', 'mov', 'h264'],
      ['clip.mkv', 'mkv', 'h264'], ['clip.webm', 'webm', 'vp8'], ['clip.avi', 'avi', 'mjpeg'],
    ];
    for (const [name, format, codec] of cases) {
      const head = Uint8Array.from((await readFile(file(name))).subarray(0, 64));
      expect(sniffMedia(head), name).toEqual({ kind: 'video', format });
      expect(await probe(name, format), name).toEqual({ width: W, height: H, frames: 150, fps: 30, durationS: 5, codec });
    }
  });

  it('refuses truncated files', async () => {
    for (const [name, format] of [['cut-fast.mp4', 'mp4'], ['cut-plain.mp4', 'mp4'], ['cut.webm', 'webm']] as const) {
      const r = await refusal(probe(name, format));
      expect(r.code, name).toBe('UNSUPPORTED_MEDIA');
      expect(r.message, name).toMatch(/not a readable video: it is truncated or damaged/);
      expect(r.message, name).not.toContain(dir); // no server paths in messages
    }
  });

  it('refuses what is not a video', async () => {
    expect(sniffMedia(await readFile(file('page.html')))).toBeUndefined();
    expect(await refusal(probe('page.html', 'mp4'))).toMatchObject({ code: 'UNSUPPORTED_MEDIA', message: expect.stringMatching(/not a readable video/) as unknown });
    expect(await refusal(probe('audio.mkv', 'mkv'))).toEqual({ code: 'UNSUPPORTED_MEDIA', message: 'The MKV file is not a readable video: it has no video stream.' });
  });

  it('refuses too many frames or pixels with 413', async () => {
    expect(await refusal(probe('plain.mp4', 'mp4', { maxFrames: 149 }))).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: 'The video has 150 frames; the limit is 149.' });
    expect((await refusal(probe('long.mp4', 'mp4', { maxFrames: 150 }))).code).toBe('PAYLOAD_TOO_LARGE'); // by its header, before decoding
    expect((await refusal(probe('clip.mkv', 'mkv', { maxFrames: 100 }))).code).toBe('PAYLOAD_TOO_LARGE'); // no stream duration: counted
    expect((await refusal(probe('clip.webm', 'webm', { maxPixels: W * H - 1 }))).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('gives up past the time limit and leaves no process behind', async () => {
    const r = await refusal(probe('long.mp4', 'mp4', { timeoutMs: 30 }));
    expect(r).toMatchObject({ code: 'UNSUPPORTED_MEDIA', message: expect.stringMatching(/took longer than/) as unknown });
    expect(await leftovers()).toEqual([]);
  });
});

describe('readVideoFrames', () => {
  const read = (name: string, format: VideoType, timeoutMs = 60_000, signal?: AbortSignal) =>
    readVideoFrames(file(name), format, { width: W, height: H }, { ffmpegPath, timeoutMs, ...(signal ? { signal } : {}) });

  it('yields every frame, in order, each with its own bytes', async () => {
    for (const [name, format] of [['plain.mp4', 'mp4'], ['clip.webm', 'webm']] as const) {
      const frames = [];
      for await (const f of read(name, format)) frames.push(f);
      expect(frames.map((f) => f.index), name).toEqual([...Array(150).keys()]);
      expect(frames.every((f) => f.width === W && f.height === H && f.data.length === W * H * 3), name).toBe(true);
      expect(frames[0]!.data.buffer).not.toBe(frames[1]!.data.buffer);
      expect(Buffer.from(frames[0]!.data).equals(Buffer.from(frames[75]!.data)), name).toBe(false); // testsrc2 moves
    }
  });

  it('decodes into a pool\'s buffers when given one of the frame size', async () => {
    const pool = new FramePool(W * H * 3);
    const seen = new Set<ArrayBufferLike>();
    let n = 0;
    for await (const f of readVideoFrames(file('plain.mp4'), 'mp4', { width: W, height: H }, { ffmpegPath, timeoutMs: 60_000, pool })) {
      expect(f.data.buffer).toBeInstanceOf(SharedArrayBuffer);
      seen.add(f.data.buffer);
      if (n++ >= 2) pool.give(f.data); // kept the first three, gave the rest back at once
    }
    expect(n).toBe(150);
    expect(seen.size).toBe(pool.made);
    expect(pool.made).toBeLessThanOrEqual(5); // three kept, one being filled, one given back
  });

  it('kills ffmpeg when the consumer stops early or aborts, or time runs out', async () => {
    let n = 0;
    for await (const f of read('long.mp4', 'mp4')) {
      expect(f.index).toBe(n);
      if (++n === 3) break;
    }
    expect(await leftovers()).toEqual([]);

    const ac = new AbortController();
    const aborted = (async () => {
      for await (const f of read('long.mp4', 'mp4', 60_000, ac.signal)) if (f.index === 2) ac.abort(new Error('stop'));
    })();
    await expect(aborted).rejects.toThrow('stop');
    expect(await leftovers()).toEqual([]);

    const slow = (async () => {
      for await (const _ of read('long.mp4', 'mp4', 200)) await new Promise((r) => setTimeout(r, 20));
    })();
    expect(await refusal(slow)).toMatchObject({ code: 'UNSUPPORTED_MEDIA', message: expect.stringMatching(/took longer than/) as unknown });
    expect(await leftovers()).toEqual([]);
  });
});

describe('AnnotatedVideoWriter', () => {
  const RED = [0xe6, 0x19, 0x4b]; // class 0's colour in annotate.ts
  const box: Detection = { label: 'face', classId: 0, score: 0.9, box: [60, 60, 200, 180] };
  const grey = (width: number, height: number) => ({ data: new Uint8Array(width * height * 3).fill(128), width, height });

  it('encodes a browser-playable MP4 with the boxes drawn', async () => {
    const out = file('annotated.mp4');
    const writer = await AnnotatedVideoWriter.open(out, { width: W, height: H, fps: 30, ffmpegPath, timeoutMs: 60_000 });
    for (let i = 0; i < 150; i++) await writer.writeFrame(grey(W, H), i % 2 ? [] : [box]);
    await writer.finish();
    expect(await probeVideo(out, 'mp4', LIMITS, { ffprobePath })).toMatchObject({ width: W, height: H, frames: 150, fps: 30, codec: 'h264' });
    const { stdout } = await run(ffprobePath, ['-v', 'error', '-show_entries', 'stream=pix_fmt,profile', '-of', 'csv=p=0', out]);
    expect(stdout.trim()).toMatch(/yuv420p/);

    const it = readVideoFrames(out, 'mp4', { width: W, height: H }, { ffmpegPath, timeoutMs: 60_000 })[Symbol.asyncIterator]();
    const first = (await it.next()).value as { data: Uint8Array };
    await it.return?.();
    const at = (x: number, y: number) => [...first.data.subarray((y * W + x) * 3, (y * W + x) * 3 + 3)];
    const near = (px: number[], want: number[]) => px.every((v, i) => Math.abs(v - want[i]!) < 40);
    const reddish = ([r, g, b]: number[]) => r! > g! + 60 && r! > b! + 40; // a 2-px line loses some colour to 4:2:0
    expect(near(at(62, 46), RED), `label ${at(62, 46).join()}`).toBe(true);
    expect(reddish(at(60, 120)), `left edge ${at(60, 120).join()}`).toBe(true);
    expect(reddish(at(130, 180)), `bottom edge ${at(130, 180).join()}`).toBe(true);
    expect(near(at(130, 120), [128, 128, 128]), `inside ${at(130, 120).join()}`).toBe(true);
    expect(await leftovers()).toEqual([]);
  });

  it('draws on an owned frame in place, and says when ffmpeg has taken each one', async () => {
    const out = file('owned.mp4');
    const pool = new FramePool(W * H * 3);
    const writer = await AnnotatedVideoWriter.open(out, { width: W, height: H, fps: 30, ffmpegPath, timeoutMs: 60_000 });
    let written = 0;
    const first = { data: pool.take().fill(128), width: W, height: H };
    await writer.writeFrame(first, [box], { owned: true, written: () => (written++, pool.give(first.data)) });
    expect([...first.data.subarray((120 * W + 60) * 3, (120 * W + 60) * 3 + 3)]).toEqual(RED); // the box's left edge, in the frame itself
    for (let i = 1; i < 60; i++) {
      const frame = { data: pool.take().fill(128), width: W, height: H };
      await writer.writeFrame(frame, [box], { owned: true, written: () => (written++, pool.give(frame.data)) });
    }
    await writer.finish();
    expect(written).toBe(60);
    expect(pool.made).toBeLessThan(60); // buffers came back and were reused
    expect(await probeVideo(out, 'mp4', LIMITS, { ffprobePath })).toMatchObject({ frames: 60 });

    const notOwned = grey(W, H);
    const again = await AnnotatedVideoWriter.open(file('copied.mp4'), { width: W, height: H, fps: 30, ffmpegPath, timeoutMs: 60_000 });
    await again.writeFrame(notOwned, [box]);
    await again.finish();
    expect(notOwned.data.every((v) => v === 128)).toBe(true); // drawn on a copy
    expect(await leftovers()).toEqual([]);
  });

  it('pads odd sizes to even ones, and abort() removes the partial file', async () => {
    const out = file('odd.mp4');
    const writer = await AnnotatedVideoWriter.open(out, { width: 161, height: 121, fps: 25, ffmpegPath, timeoutMs: 60_000 });
    for (let i = 0; i < 10; i++) await writer.writeFrame(grey(161, 121), [{ ...box, box: [10, 20, 100, 110] }]);
    await writer.finish();
    expect(await probeVideo(out, 'mp4', LIMITS, { ffprobePath })).toMatchObject({ width: 162, height: 122, frames: 10, fps: 25 });

    const partial = file('partial.mp4');
    const aborted = await AnnotatedVideoWriter.open(partial, { width: W, height: H, fps: 30, ffmpegPath, timeoutMs: 60_000 });
    await aborted.writeFrame(grey(W, H), [box]);
    await aborted.abort();
    await expect(readFile(partial)).rejects.toThrow(/ENOENT/);
    expect(await leftovers()).toEqual([]);
  });
});
