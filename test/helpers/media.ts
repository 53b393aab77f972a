/**
 * Test media made with ffmpeg: a clip of a moving, zooming face (from test/fixtures/astronaut.jpg) for
 * live-session tests and the live benchmark, a panning cat, and a frame counter for checking recordings.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/astronaut.jpg');

function ffmpegPath(): string {
  return process.env['FFMPEG_PATH'] || 'ffmpeg';
}

/** Runs ffmpeg; resolves with its stderr, rejects with the stderr's tail when it fails. */
function ffmpeg(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(ffmpegPath(), ['-hide_banner', '-nostdin', ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`ffmpeg ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-2_000)}`));
      else resolve(stderr);
    });
  });
}

export interface FaceClipOptions {
  /** Length in seconds (default 12). */
  seconds?: number;
  /** Frame size (default 640x480); the picture is cut to this aspect, never stretched. */
  width?: number;
  height?: number;
  /** Frame rate (default 30). */
  fps?: number;
}

/**
 * The photo is 512x512 with the face at about [180, 75, 270, 175]. Work on it scaled ×4 so that
 * zoompan's integer crop positions move smoothly: the face centre is then near (900, 500) and the
 * face about 360x400.
 */
const UPSCALE = 4;
const PHOTO = 512;
const FACE = { cx: 225, cy: 125 };

/** The largest window of the photo with the output's aspect, kept at the top and around the face. */
function aspectWindow(width: number, height: number): { w: number; h: number; x: number } {
  const w = width >= height ? PHOTO : 2 * Math.round((PHOTO * width) / height / 2);
  const h = width >= height ? 2 * Math.round((PHOTO * height) / width / 2) : PHOTO;
  return { w, h, x: Math.max(0, Math.min(PHOTO - w, Math.round(FACE.cx - w / 2))) };
}

/**
 * zoompan expressions (t = output frame / fps): the zoom breathes between 1.15 and 2.05 over 6 s, so the
 * face fills about 30% to 55% of the frame height; the window circles the face (±120 x ±60 px of the
 * upscaled photo, periods 4 s and 5 s), so the face moves across the frame without leaving it.
 */
function zoompan(width: number, height: number, fps: number, cropX: number): string {
  const t = `(on/${fps})`;
  const z = `1.6+0.45*sin(2*PI*${t}/6)`;
  const cx = `${(FACE.cx - cropX) * UPSCALE}+120*sin(2*PI*${t}/4)`;
  const cy = `${FACE.cy * UPSCALE}+60*cos(2*PI*${t}/5)`;
  const x = `clip(${cx}-iw/zoom/2,0,iw-iw/zoom)`;
  const y = `clip(${cy}-ih/zoom/2,0,ih-ih/zoom)`;
  return `zoompan=z='${z}':x='${x}':y='${y}':d=1:s=${width}x${height}:fps=${fps}`;
}

/** Writes an H.264 (yuv420p, crf 18) MP4 of a moving, zooming face to `outPath`. */
export async function makeFaceClip(outPath: string, opts: FaceClipOptions = {}): Promise<void> {
  const { seconds = 12, width = 640, height = 480, fps = 30 } = opts;
  if (width % 2 || height % 2) throw new Error(`makeFaceClip: width and height must be even, got ${width}x${height}`);
  const win = aspectWindow(width, height);
  const filters = [`crop=${win.w}:${win.h}:${win.x}:0`, `scale=${win.w * UPSCALE}:${win.h * UPSCALE}`, zoompan(width, height, fps, win.x), 'format=yuv420p'];
  await ffmpeg(
    [
      '-y', '-loglevel', 'error',
      '-loop', '1', '-framerate', String(fps), '-i', FIXTURE,
      '-vf', filters.join(','),
      '-t', String(seconds), '-r', String(fps),
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
      outPath,
    ],
    Math.max(60_000, seconds * 5_000),
  );
}

/**
 * Writes an H.264 MP4 of the cat photo (test/fixtures/chelsea.jpg) with a slow pan, so the encoder sends real
 * frames throughout: a picture NanoDet labels "cat", to stream beside the face clip ("person").
 */
export async function makeCatClip(outPath: string, seconds = 6): Promise<void> {
  await ffmpeg(
    [
      '-y', '-loglevel', 'error', '-loop', '1', '-framerate', '30', '-i', path.join(path.dirname(FIXTURE), 'chelsea.jpg'),
      '-vf', "scale=700:520,crop=640:480:'30+30*sin(t)':'20+20*cos(t)',format=yuv420p", '-t', String(seconds),
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', outPath,
    ],
    Math.max(60_000, seconds * 5_000),
  );
}

/** The number of video frames in `file`, by decoding it all. */
export async function countFrames(file: string): Promise<number> {
  const stderr = await ffmpeg(['-i', file, '-map', '0:v:0', '-f', 'null', '-'], 120_000);
  const counts = [...stderr.matchAll(/frame=\s*(\d+)/g)];
  const last = counts.at(-1)?.[1];
  if (last === undefined) throw new Error(`countFrames: no frame count in ffmpeg's output for ${file}`);
  return Number(last);
}

/** A face clip written under `dir` (as `face-<seconds>s.mp4`), returned as bytes for an upload. */
export async function faceClipBytes(dir: string, opts: FaceClipOptions = {}): Promise<Buffer> {
  const file = path.join(dir, `face-${opts.seconds ?? 12}s-${opts.width ?? 640}x${opts.height ?? 480}.mp4`);
  await makeFaceClip(file, opts);
  return readFile(file);
}

export interface CrossingClipOptions {
  /** Length in seconds (default 6); frame rate (default 15). */
  seconds?: number;
  fps?: number;
}

/** Where the two faces of the crossing clip are at time t (s): A goes right along the top, B left lower down. */
export const CROSSING = {
  width: 640,
  height: 360,
  face: 120,
  a: (t: number): { x: number; y: number } => ({ x: 10 + 85 * t, y: 40 }),
  b: (t: number): { x: number; y: number } => ({ x: 510 - 85 * t, y: 110 }),
} as const;

/**
 * An H.264 MP4 in which two faces (the astronaut's, cut from the photo) cross: A left to right, B right to
 * left, B drawn over A's lower part while they pass (their boxes overlap by about 40% of a face's height).
 */
export async function makeCrossingClip(outPath: string, opts: CrossingClipOptions = {}): Promise<void> {
  const { seconds = 6, fps = 15 } = opts;
  const { width, height, face } = CROSSING;
  const a0 = CROSSING.a(0);
  const b0 = CROSSING.b(0);
  const graph = [
    `[1:v]crop=${face}:${face}:165:66,split[fa][fb]`,
    `[0:v][fa]overlay=x='${a0.x}+85*t':y=${a0.y}[t1]`,
    `[t1][fb]overlay=x='${b0.x}-85*t':y=${b0.y},format=yuv420p[out]`,
  ].join(';');
  await ffmpeg(
    [
      '-y', '-loglevel', 'error',
      '-f', 'lavfi', '-i', `color=c=0x606878:s=${width}x${height}:r=${fps}:d=${seconds}`,
      '-loop', '1', '-framerate', String(fps), '-i', FIXTURE,
      '-filter_complex', graph, '-map', '[out]',
      '-t', String(seconds), '-r', String(fps),
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-movflags', '+faststart',
      outPath,
    ],
    60_000,
  );
}
