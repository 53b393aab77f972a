/**
 * LiveDecoder with the real ffmpeg: encoded frames in (IVF on stdin), scaled RGB frames out with the pts
 * they were written with, a recording that holds every frame, and no ffmpeg left behind.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg, type FfmpegInfo } from '../../../src/media/ffmpeg.js';
import { LiveDecoder, type DecodedFrame } from '../../../src/media/live-decoder.js';

const run = promisify(execFile);
const FRAMES = 30;
const PTS_STEP = 3000; // 30 fps in 90 kHz units

let ffmpeg: FfmpegInfo;
let dir: string;

beforeAll(async () => {
  ffmpeg = await resolveFfmpeg({ envPath: process.env['FFMPEG_PATH'] ?? '/usr/bin/ffmpeg', fresh: true });
  dir = await mkdtemp(path.join(os.tmpdir(), 'lookout-live-decoder-'));
});

/** Every decoder a test starts is closed after it, even when the test fails half way. */
const started: LiveDecoder[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.close(500)));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Encodes FRAMES frames of ffmpeg's test pattern. */
async function encode(args: string[], out: string): Promise<Buffer> {
  await run(ffmpeg.path, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=30', '-frames:v', String(FRAMES), ...args, out], {
    timeout: 60_000,
  });
  return readFile(out);
}

/** The frames of an IVF file: 32-byte (or header-length) file header, then 12-byte frame headers. */
function ivfFrames(buf: Buffer): Buffer[] {
  expect(buf.toString('latin1', 0, 4)).toBe('DKIF');
  const frames: Buffer[] = [];
  let off = buf.readUInt16LE(6);
  while (off + 12 <= buf.length) {
    const size = buf.readUInt32LE(off);
    frames.push(buf.subarray(off + 12, off + 12 + size));
    off += 12 + size;
  }
  expect(off).toBe(buf.length);
  return frames;
}

/** Annex B access units, split at access unit delimiters (NAL type 9; encoded with aud=1). */
function annexBAccessUnits(buf: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 4 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 1 && (buf[i + 4]! & 0x1f) === 9) starts.push(i);
  }
  return starts.map((s, k) => buf.subarray(s, starts[k + 1] ?? buf.length));
}

/** ffmpeg decodes the whole file and reports how many frames it saw. */
async function countFrames(file: string): Promise<number> {
  const { stderr } = await run(ffmpeg.path, ['-hide_banner', '-nostdin', '-i', file, '-map', '0:v:0', '-f', 'null', '-'], { timeout: 60_000 });
  const last = [...stderr.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1];
  if (last === undefined) throw new Error(`no frame count for ${file}:\n${stderr}`);
  return Number(last);
}

/** ffmpeg processes that are children of this (test worker) process. */
async function ffmpegChildren(): Promise<string> {
  try {
    const { stdout } = await run('pgrep', ['-P', String(process.pid), 'ffmpeg']);
    return stdout.trim();
  } catch (err) {
    if ((err as { code?: number }).code === 1) return ''; // pgrep: nothing matched
    throw err;
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Run {
  decoder: LiveDecoder;
  frames: DecodedFrame[];
  decodeErrors: string[];
  exits: { code: number | null; signal: NodeJS.Signals | null; tail: string }[];
}

function startDecoder(codec: 'vp8' | 'h264', recordingPath: string | undefined): Run {
  const r: Omit<Run, 'decoder'> = { frames: [], decodeErrors: [], exits: [] };
  const decoder = new LiveDecoder({
    ffmpegPath: ffmpeg.path,
    ffmpegVersion: ffmpeg.version,
    codec,
    target: [256, 256],
    resize: 'letterbox',
    recordingPath,
    onFrame: (f) => r.frames.push(f),
    onDecodeError: (line) => r.decodeErrors.push(line),
    onExit: (code, signal, tail) => r.exits.push({ code, signal, tail }),
  });
  started.push(decoder);
  return { decoder, ...r };
}

function expectFrames(r: Run): void {
  expect(r.frames.map((f) => f.pts)).toEqual(Array.from({ length: FRAMES }, (_, i) => i * PTS_STEP));
  for (const f of r.frames) {
    expect([f.sourceWidth, f.sourceHeight]).toEqual([640, 480]);
    expect([f.width, f.height]).toEqual([256, 192]); // 640x480 letterboxed into 256x256
    expect(f.data.length).toBe(f.width * f.height * 3);
  }
}

describe('LiveDecoder (real ffmpeg)', () => {
  it('decodes VP8 frames with their pts, scales them, records them to WebM and leaves no process', async () => {
    const input = ivfFrames(await encode(['-c:v', 'libvpx', '-b:v', '1M', '-f', 'ivf'], path.join(dir, 'in.ivf')));
    expect(input).toHaveLength(FRAMES);
    const recording = path.join(dir, 'rec.webm');
    const r = startDecoder('vp8', recording);
    expect(r.decoder.alive).toBe(true);
    expect(await ffmpegChildren()).toContain(String(r.decoder.pid));

    input.forEach((frame, i) => expect(r.decoder.write(frame, i * PTS_STEP)).toBe(i * PTS_STEP));
    await until(() => r.frames.length >= FRAMES, 20_000, `${FRAMES} decoded frames (got ${r.frames.length})`);
    expectFrames(r);
    // The test pattern's top-left is not black: real pixels came through.
    expect(r.frames[0]!.data.subarray(0, 256 * 3).some((v) => v > 0)).toBe(true);

    await r.decoder.close();
    expect(r.decoder.alive).toBe(false);
    expect(r.decoder.write(input[0]!, 1e9)).toBeUndefined(); // closed: nothing more is written
    expect(r.exits).toHaveLength(1);
    expect(r.exits[0]!.code).toBe(0);
    expect(r.decodeErrors).toEqual([]);
    expect(r.frames).toHaveLength(FRAMES);

    expect((await stat(recording)).size).toBeGreaterThan(1000);
    expect(await countFrames(recording)).toBe(FRAMES);
    expect(await ffmpegChildren()).toBe('');
  });

  it('hands each frame out as soon as it is decoded, not when later input pushes it', async () => {
    const input = ivfFrames(await readFile(path.join(dir, 'in.ivf')));
    const r = startDecoder('vp8', undefined);
    // The demuxer probes a few packets before the first frame comes out.
    let written = 0;
    while (r.frames.length === 0) {
      expect(written, 'frames written before the first one came out').toBeLessThan(6);
      r.decoder.write(input[written]!, written * PTS_STEP);
      written++;
      await until(() => r.frames.length > 0, 300, 'first frame').catch(() => undefined);
    }
    await until(() => r.frames.length === written, 2_000, 'the probed frames');
    // From then on: one frame in, that frame out, with nothing written after it.
    for (let i = written; i < FRAMES; i++) {
      r.decoder.write(input[i]!, i * PTS_STEP);
      await until(() => r.frames.length === i + 1, 2_000, `frame ${i} out before frame ${i + 1} goes in`);
      expect(r.frames[i]!.pts).toBe(i * PTS_STEP);
    }
    await r.decoder.close();
    expect(await ffmpegChildren()).toBe('');
  });

  it('decodes H.264 access units (Annex B) and records them to Matroska', async () => {
    const input = annexBAccessUnits(
      await encode(['-c:v', 'libx264', '-profile:v', 'high', '-bf', '0', '-pix_fmt', 'yuv420p', '-x264-params', 'aud=1', '-f', 'h264'], path.join(dir, 'in.h264')),
    );
    expect(input).toHaveLength(FRAMES);
    const recording = path.join(dir, 'rec.mkv');
    const r = startDecoder('h264', recording);
    input.forEach((au, i) => r.decoder.write(au, i * PTS_STEP));
    await until(() => r.frames.length >= FRAMES, 20_000, `${FRAMES} decoded frames (got ${r.frames.length})`);
    expectFrames(r);
    await r.decoder.close();
    expect(r.exits[0]?.code).toBe(0);
    expect(await countFrames(recording)).toBe(FRAMES);
    expect(await ffmpegChildren()).toBe('');
  });

  it('keeps pts strictly increasing when the client clock goes back', async () => {
    const input = ivfFrames(await readFile(path.join(dir, 'in.ivf')));
    const r = startDecoder('vp8', undefined);
    expect(r.decoder.write(input[0]!, 0)).toBe(0);
    expect(r.decoder.write(input[1]!, 3000)).toBe(3000);
    expect(r.decoder.write(input[2]!, 1000)).toBe(3001); // the clock went back: one unit later instead
    expect(r.decoder.write(input[3]!, 3001)).toBe(3002);
    expect(r.decoder.write(input[4]!, 6000)).toBe(6000);
    await until(() => r.frames.length >= 5, 10_000, '5 frames');
    expect(r.frames.map((f) => f.pts)).toEqual([0, 3000, 3001, 3002, 6000]);
    await r.decoder.close();
    expect(await ffmpegChildren()).toBe('');
  });

  it('kills an ffmpeg that does not exit within the grace period', async () => {
    const r = startDecoder('vp8', undefined);
    // Stop the process so it cannot react to the end of its input; close() must SIGKILL it.
    process.kill(r.decoder.pid!, 'SIGSTOP');
    await r.decoder.close(300);
    expect(r.exits[0]?.signal).toBe('SIGKILL');
    expect(await ffmpegChildren()).toBe('');
  });
});
