/**
 * Videos in and out through ffmpeg/ffprobe child processes: probing (size, exact frame count, damage),
 * decoding to RGB24 frames with backpressure, and encoding annotated frames to a browser-playable MP4.
 *
 * Every run is locked down, since the files come from users: the demuxer is forced from the sniffed type
 * (a file never picks its own, e.g. a playlist), only the file and pipe protocols may be opened, there is
 * no shell and no stdin interaction, and a wall-clock limit or an AbortSignal SIGKILLs the child.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { AppError } from '../errors.js';
import type { Detection, RgbFrame } from '../inference/types.js';
import type { FramePool } from './frame-pool.js';
import { drawOverlay } from './overlay.js';
import type { VideoType } from './sniff.js';

export interface VideoInfo {
  width: number;
  height: number;
  frames: number;
  fps: number;
  durationS: number;
  codec: string;
}

export interface VideoLimits {
  timeoutMs: number;
  maxFrames: number;
  maxPixels: number;
}

/**
 * x264's threads for an annotated video: one fewer than the cores, at least one, so that the encoder leaves the
 * model's thread a core. With x264's own choice (frame threads: 1.5 a core, plus lookahead) a BlazeFace video job
 * on two cores ran at 69-75 frames a second, with one thread at 86-90 (interleaved runs, `bench:jobs`). The
 * decoder keeps ffmpeg's choice: one thread made no consistent difference.
 */
const X264_THREADS = String(Math.max(1, availableParallelism() - 1));

const DEMUXER: Record<VideoType, string> = { mp4: 'mov', mov: 'mov', webm: 'matroska', mkv: 'matroska', avi: 'avi' };

/** Input options for a user's file: forced demuxer, local file only (`file:` so a ':' in the path is no protocol). */
const inputArgs = (path: string, format: VideoType): string[] => ['-protocol_whitelist', 'file,pipe', '-f', DEMUXER[format], '-i', `file:${path}`];

interface RunResult {
  code: number | null;
  timedOut: boolean;
  aborted: boolean;
  /** The first 16 KB of stderr. */
  stderr: string;
  spawnError?: Error;
}

interface Run {
  child: ChildProcess;
  result: Promise<RunResult>;
  kill(): void;
}

/** Starts `bin` (never through a shell); SIGKILLs it after `timeoutMs` or on abort. */
function start(bin: string, args: string[], stdin: 'ignore' | 'pipe', timeoutMs: number, signal?: AbortSignal): Run {
  const child = spawn(bin, args, { stdio: [stdin, 'pipe', 'pipe'] });
  let stderr = '';
  let timedOut = false;
  let aborted = false;
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const timer = setTimeout(() => ((timedOut = true), kill()), timeoutMs);
  const onAbort = (): void => ((aborted = true), kill());
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    if (stderr.length < 16_384) stderr += s;
  });
  child.stdin?.on('error', () => {}); // EPIPE when the child dies first; the exit result tells why
  const result = new Promise<RunResult>((resolve) => {
    const done = (code: number | null, spawnError?: Error): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ code, timedOut, aborted, stderr, ...(spawnError ? { spawnError } : {}) });
    };
    child.once('error', (e) => done(null, e));
    child.once('close', (code) => done(code));
  });
  return { child, result, kill };
}

/** A line of stderr fit for a user: no server path, no pointers ("[h264 @ 0x55d…]" -> "[h264]"). */
function tidy(line: string | undefined, path: string): string {
  return (line ?? '').trim().replaceAll(`file:${path}`, 'the file').replaceAll(path, 'the file').replace(/ @ 0x[0-9a-f]+\]/g, ']').replace(/[.\s]+$/, '');
}
const lines = (s: string): string[] => s.split('\n').filter((l) => l.trim());
const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

interface RunContext {
  what: string;
  path: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  code: 'UNSUPPORTED_MEDIA' | 'INTERNAL';
}

/** The error for a run that did not end well (the abort's reason when aborted), or undefined when it exited 0. */
function runError(r: RunResult, ctx: RunContext): Error | undefined {
  if (r.aborted) {
    const reason: unknown = ctx.signal?.reason;
    return reason instanceof Error ? reason : new Error('The operation was aborted.', { cause: reason });
  }
  if (r.timedOut) return new AppError(ctx.code, `${ctx.what} took longer than ${seconds(ctx.timeoutMs)}.`);
  if (r.spawnError) return new AppError('INTERNAL', `${ctx.what} failed: ${r.spawnError.message}`, {}, { cause: r.spawnError });
  if (r.code !== 0) return new AppError(ctx.code, `${ctx.what} failed (exit ${r.code}): ${tidy(lines(r.stderr).at(-1), ctx.path) || 'no message'}`);
  return undefined;
}

/** Runs ffprobe to completion and parses its JSON (none when it failed: its exit code and stderr tell why). */
async function ffprobeJson(bin: string, args: string[], ctx: RunContext, deadline: number): Promise<{ json: ProbeJson; r: RunResult }> {
  const run = start(bin, ['-hide_banner', '-v', 'error', ...args, '-of', 'json'], 'ignore', Math.max(1, deadline - Date.now()), ctx.signal);
  let out = '';
  run.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    if (out.length < 1 << 20) out += s;
  });
  const r = await run.result;
  const fatal = (r.aborted || r.timedOut || r.spawnError) && runError(r, ctx); // else a failure is the file's
  if (fatal) throw fatal;
  try {
    return { json: JSON.parse(out) as ProbeJson, r };
  } catch {
    return { json: {}, r };
  }
}

interface ProbeStream {
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  duration?: string;
  nb_frames?: string;
  nb_read_frames?: string;
  nb_read_packets?: string;
  side_data_list?: { rotation?: number }[];
  tags?: { rotate?: string };
}
interface ProbeJson {
  streams?: ProbeStream[];
  format?: { duration?: string };
}

const num = (s: string | undefined): number => {
  const n = Number(s);
  return Number.isFinite(n) && n > 0 ? n : 0;
};
const rate = (s: string | undefined): number => {
  const [a, b] = (s ?? '').split('/').map(Number);
  return a && b && Number.isFinite(a / b) ? a / b : 0;
};

/**
 * ffprobe with an EXACT frame count (every frame decoded: `-count_frames`). Two runs: the stream header
 * first (cheap), so that oversized videos are refused before any decoding; then the count. A file is
 * refused as truncated or damaged when ffprobe reports any error (the decoders and demuxers complain about
 * cut data), or when the demuxer delivered fewer packets than the container's own index lists (an MP4 or
 * AVI cut at a sample boundary reads "cleanly" up to the cut).
 */
export async function probeVideo(path: string, format: VideoType, limits: VideoLimits, opts: { ffprobePath: string; signal?: AbortSignal }): Promise<VideoInfo> {
  const label = format.toUpperCase();
  const refuse = (reason: string): AppError => new AppError('UNSUPPORTED_MEDIA', `The ${label} file is not a readable video: ${reason}.`);
  const damaged = (r: RunResult): AppError => {
    const ls = lines(r.stderr); // the line that says what happened to the file, else the first complaint
    const line = ls.find((l) => /partial file|prematurely|moov atom not found|truncat|end of file/i.test(l)) ?? ls[0];
    return refuse(`it is truncated or damaged (${tidy(line, path) || `ffprobe exit ${r.code}`})`);
  };
  const deadline = Date.now() + limits.timeoutMs; // for both runs together
  const ctx: RunContext = { what: `Reading the ${label} video`, path, timeoutMs: limits.timeoutMs, signal: opts.signal, code: 'UNSUPPORTED_MEDIA' };
  const common = [...inputArgs(path, format), '-select_streams', 'V:0']; // V: video, cover art excluded

  const head = await ffprobeJson(
    opts.ffprobePath,
    [...common, '-show_entries', 'stream=codec_name,width,height,avg_frame_rate,r_frame_rate,duration:stream_side_data=rotation:stream_tags=rotate:format=duration'],
    ctx,
    deadline,
  );
  if (head.r.code !== 0) throw damaged(head.r);
  const s = head.json.streams?.[0];
  if (!s) throw refuse('it has no video stream');
  const rotation = s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? Number(s.tags?.rotate ?? 0);
  const [width, height] = Math.abs(rotation) % 180 === 90 ? [s.height ?? 0, s.width ?? 0] : [s.width ?? 0, s.height ?? 0];
  if (!width || !height) throw refuse('its video stream has no size');
  if (width * height > limits.maxPixels) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The video is ${width}×${height} = ${width * height} pixels a frame; the limit is ${limits.maxPixels}.`);
  }
  const fps = rate(s.avg_frame_rate) || rate(s.r_frame_rate);
  const declaredS = num(s.duration) || num(head.json.format?.duration);
  // Clearly too long by its own header: refuse now rather than decode it all. The exact check follows.
  if (num(s.duration) * fps > limits.maxFrames * 1.1 + 10) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The video has about ${Math.round(num(s.duration) * fps)} frames; the limit is ${limits.maxFrames}.`);
  }

  const counted = ['-count_frames', '-count_packets', '-show_entries', 'stream=nb_frames,nb_read_frames,nb_read_packets'];
  const count = await ffprobeJson(opts.ffprobePath, [...common, ...counted], ctx, deadline);
  if (count.r.code !== 0 || count.r.stderr.trim()) throw damaged(count.r);
  const c = count.json.streams?.[0];
  const frames = num(c?.nb_read_frames);
  const listed = num(c?.nb_frames);
  if (listed && num(c?.nb_read_packets) < listed) {
    throw refuse(`it is truncated or damaged (only ${num(c?.nb_read_packets)} of the ${listed} frames its index lists are in the file)`);
  }
  if (frames > limits.maxFrames) throw new AppError('PAYLOAD_TOO_LARGE', `The video has ${frames} frames; the limit is ${limits.maxFrames}.`);
  return { width, height, frames, fps: fps || (declaredS ? frames / declaredS : 0), durationS: declaredS || (fps ? frames / fps : 0), codec: s.codec_name ?? 'unknown' };
}

/** What an ffmpeg binary offers, asked once per path: `-fps_mode` (5.1+; older ones know `-vsync`) and encoders. */
interface Capabilities {
  fpsMode: boolean;
  encoders: Set<string>;
}
const capsCache = new Map<string, Promise<Capabilities>>();
const execFileP = promisify(execFile);

function capabilities(ffmpegPath: string): Promise<Capabilities> {
  let hit = capsCache.get(ffmpegPath);
  if (!hit) {
    const ask = (arg: string): Promise<string> => execFileP(ffmpegPath, ['-hide_banner', arg], { timeout: 10_000, maxBuffer: 4 << 20 }).then((r) => r.stdout);
    hit = Promise.all([ask('-h'), ask('-encoders')]).then(([help, enc]) => ({
      fpsMode: /^-fps_mode\b/m.test(help),
      encoders: new Set([...enc.matchAll(/^ [A-Z.]{6} (\S+)/gm)].map((m) => m[1]!)),
    }));
    capsCache.set(ffmpegPath, hit);
    hit.catch(() => capsCache.delete(ffmpegPath));
  }
  return hit;
}

/**
 * Decodes every frame as packed RGB24 at the video's size (display orientation, as probeVideo reports it),
 * in order, with backpressure: the consumer's pace drives ffmpeg through the pipe. Leaving the loop early
 * (break, return, throw) or aborting kills ffmpeg. Each frame owns its bytes.
 */
export async function* readVideoFrames(
  path: string,
  format: VideoType,
  info: { width: number; height: number },
  opts: { ffmpegPath: string; timeoutMs: number; signal?: AbortSignal; pool?: FramePool },
): AsyncIterable<RgbFrame & { index: number }> {
  const { width, height } = info;
  const passthrough = (await capabilities(opts.ffmpegPath)).fpsMode ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough'];
  const args = [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...inputArgs(path, format),
    '-map', '0:V:0', '-an', '-sn', '-dn', '-vf', `scale=${width}:${height}`, ...passthrough, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
  const run = start(opts.ffmpegPath, args, 'ignore', opts.timeoutMs, opts.signal);
  const size = width * height * 3;
  const fresh = (): Uint8Array => (opts.pool?.size === size ? opts.pool.take() : new Uint8Array(size));
  let frame = fresh();
  let filled = 0;
  let index = 0;
  try {
    for await (const chunk of run.child.stdout! as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; ) {
        const n = Math.min(size - filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === size) {
          yield { data: frame, width, height, index: index++ };
          frame = fresh();
          filled = 0;
        }
      }
    }
    const err = runError(await run.result, { what: `Decoding the ${format.toUpperCase()} video`, path, timeoutMs: opts.timeoutMs, signal: opts.signal, code: 'UNSUPPORTED_MEDIA' });
    if (err) throw err;
    if (filled) throw new AppError('UNSUPPORTED_MEDIA', `Decoding the ${format.toUpperCase()} video ended inside a frame.`);
  } finally {
    run.kill();
    await run.result;
  }
}

/** Why the encoder is gone (it only stops on its own when something went wrong). */
const encodeError = (r: RunResult, ctx: RunContext): Error => runError(r, ctx) ?? new AppError('INTERNAL', `${ctx.what} failed: ffmpeg stopped early.`);

/** Encodes RGB24 frames into an H.264 MP4 (yuv420p, +faststart, browser-playable), optionally with labelled boxes. */
export class AnnotatedVideoWriter {
  private ended: RunResult | undefined;

  private constructor(
    private readonly run: Run,
    private readonly outPath: string,
    private readonly width: number,
    private readonly height: number,
    private readonly ctx: RunContext,
  ) {
    void run.result.then((r) => (this.ended = r));
  }

  static async open(outPath: string, opts: { width: number; height: number; fps: number; ffmpegPath: string; timeoutMs: number }): Promise<AnnotatedVideoWriter> {
    const { width, height, fps } = opts;
    if (!(width > 0 && height > 0 && fps > 0)) throw new AppError('INTERNAL', `Cannot encode a ${width}×${height} video at ${fps} fps.`);
    const { encoders } = await capabilities(opts.ffmpegPath);
    const codec = encoders.has('libx264')
      ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-threads', X264_THREADS]
      : encoders.has('libopenh264')
        ? ['-c:v', 'libopenh264', '-b:v', `${Math.round(width * height * fps * 0.1)}`]
        : undefined;
    if (!codec) throw new AppError('INTERNAL', `The ffmpeg at ${opts.ffmpegPath} has no H.264 encoder (libx264 or libopenh264).`);
    const args = [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', String(fps), '-i', 'pipe:0',
      // yuv420p needs even sizes: pad odd ones by a pixel
      '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', ...codec, '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4', '-y', `file:${outPath}`,
    ];
    const run = start(opts.ffmpegPath, args, 'pipe', opts.timeoutMs);
    const ctx: RunContext = { what: 'Encoding the annotated video', path: outPath, timeoutMs: opts.timeoutMs, code: 'INTERNAL' };
    const failed = await new Promise<RunResult | undefined>((resolve) => {
      run.child.once('spawn', () => resolve(undefined));
      void run.result.then(resolve);
    });
    if (failed) throw encodeError(failed, ctx);
    return new AnnotatedVideoWriter(run, outPath, width, height, ctx);
  }

  /**
   * Draws `objects` on the frame (none: the frame as is) and hands it to ffmpeg, waiting while its pipe is full.
   * An `owned` frame is drawn on and handed over as it is: the caller must not touch its bytes again;
   * `written` is called once ffmpeg's pipe has taken them (or they were dropped), when the buffer may be reused.
   */
  async writeFrame(frame: RgbFrame, objects: readonly Detection[], opts: { owned?: boolean; written?: () => void } = {}): Promise<void> {
    if (frame.width !== this.width || frame.height !== this.height) {
      throw new AppError('INTERNAL', `Frame is ${frame.width}×${frame.height}; the video is ${this.width}×${this.height}.`);
    }
    // Otherwise a copy, even when nothing is drawn: the caller may reuse its buffer while the pipe still holds ours.
    const bytes = await drawOverlay(frame, objects, { inPlace: opts.owned === true });
    if (this.ended) throw encodeError(this.ended, this.ctx);
    const stdin = this.run.child.stdin!;
    if (stdin.write(bytes, opts.written)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        stdin.off('drain', done);
        resolve();
      };
      stdin.on('drain', done);
      void this.run.result.then(done);
    });
    if (this.ended) throw encodeError(this.ended, this.ctx);
  }

  /** Closes the input and waits for ffmpeg to finish the file; on failure the partial file is removed. */
  async finish(): Promise<void> {
    this.run.child.stdin!.end();
    const err = runError(await this.run.result, this.ctx);
    if (!err) return;
    await rm(this.outPath, { force: true });
    throw err;
  }

  /** Kills ffmpeg and removes the partial output. */
  async abort(): Promise<void> {
    this.run.kill();
    await this.run.result;
    await rm(this.outPath, { force: true });
  }
}
