/**
 * One ffmpeg process per live session. Encoded frames go in on stdin as IVF (our timestamps attached);
 * out come RGB frames already scaled to what the model needs, as PPM images (each carries its own size,
 * so a resolution change mid-stream needs no restart). The same process stream-copies the input into the
 * session's recording (Matroska/WebM: readable even if the process is killed).
 *
 * Matching output to input: a `showinfo` filter before the scaler prints each decoded frame's pts and
 * source size on stderr; its lines and the PPM images come out in the same order, so the n-th image goes
 * with the n-th line. A frame the decoder could not decode simply never appears: nothing shifts.
 *
 * No buffering is added anywhere: tiny probe, no frame threading, low-delay flags, one frame per write.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ivfFileHeader, ivfFrameHeader, type IvfCodec } from '../live/ivf.js';

export interface DecodedFrame {
  /** The pts written with the encoded frame. */
  readonly pts: number;
  /** The decoded picture's size before scaling (the client's frame size). */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  /** RGB24, scaled to fit the model input. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface LiveDecoderOptions {
  readonly ffmpegPath: string;
  /** "5.1.6-0+deb12u1", to pick flags the binary knows. */
  readonly ffmpegVersion: string;
  readonly codec: IvfCodec;
  /** The model input size; frames are scaled to fit inside it (aspect kept) or stretched to it. */
  readonly target: readonly [number, number];
  readonly resize: 'letterbox' | 'stretch';
  /** Where to stream-copy the input (.webm for VP8, .mkv for H.264); omitted: no recording. */
  readonly recordingPath?: string | undefined;
  readonly onFrame: (frame: DecodedFrame) => void;
  /** The decoder complained (corrupt or missing reference data): time to ask for a keyframe. */
  readonly onDecodeError: (line: string) => void;
  /** The process ended on its own or was stopped; `stderrTail` holds its last lines. */
  readonly onExit: (code: number | null, signal: NodeJS.Signals | null, stderrTail: string) => void;
}

const SHOWINFO = /\bn:\s*(\d+)\s+pts:\s*(-?\d+)\b.*?\bs:(\d+)x(\d+)/;
/** Lines from the decoders that mean a picture was lost or damaged. */
const DECODE_ERROR = /\[(?:vp8|h264|libvpx)[^\]]*\].*(?:error|corrupt|concealing|discarding|missing|non-existing|invalid|no frame)/i;

function scaleFilter(target: readonly [number, number], resize: 'letterbox' | 'stretch'): string {
  const [w, h] = target;
  if (resize === 'stretch') return `scale=${w}:${h}`;
  // The same rounding as inference/letterbox.ts, so the detector only normalises the frame.
  const s = `min(${w}/iw\\,${h}/ih)`;
  return `scale=w='max(1\\,min(${w}\\,round(iw*${s})))':h='max(1\\,min(${h}\\,round(ih*${s})))'`;
}

function atLeast(version: string, major: number, minor: number): boolean {
  const m = /^n?(\d+)\.(\d+)/.exec(version);
  // Git builds ("N-47683-g…") carry no release number: the bundled 2018 one lacks -fps_mode, and -vsync works
  // on every version (deprecated, not removed, in newer ones), so take the safe side.
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

export function liveDecoderArgs(opts: Pick<LiveDecoderOptions, 'ffmpegVersion' | 'codec' | 'target' | 'resize' | 'recordingPath'>): string[] {
  const passthrough = atLeast(opts.ffmpegVersion, 5, 1) ? ['-fps_mode', 'passthrough'] : ['-vsync', 'passthrough'];
  const args = [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info',
    '-probesize', '32', '-analyzeduration', '0', '-flags', 'low_delay', '-threads', '1',
    '-f', 'ivf', '-copyts', '-i', 'pipe:0',
    '-map', '0:v', '-vf', `showinfo,${scaleFilter(opts.target, opts.resize)}`, ...passthrough,
    '-c:v', 'ppm', '-f', 'image2pipe', '-flush_packets', '1', 'pipe:1',
  ];
  if (opts.recordingPath) {
    // A cluster at least every second, flushed as it closes: a crash (even SIGKILL of ffmpeg) loses at most the
    // last second; what was written stays decodable (Matroska needs no index to be read).
    args.push(
      '-map', '0:v', '-c', 'copy', '-f', opts.codec === 'vp8' ? 'webm' : 'matroska',
      '-cluster_time_limit', '1000', '-cluster_size_limit', String(2 * 1024 * 1024), '-flush_packets', '1', '-y', opts.recordingPath,
    );
  }
  return args;
}

interface FrameInfo {
  pts: number;
  sourceWidth: number;
  sourceHeight: number;
}

export class LiveDecoder {
  readonly #opts: LiveDecoderOptions;
  readonly #proc: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #infos: FrameInfo[] = [];
  readonly #images: { data: Uint8Array; width: number; height: number }[] = [];
  #out: Buffer = Buffer.alloc(0);
  #errLine = '';
  #stderrTail: string[] = [];
  #lastPts = -1;
  #exited: Promise<void>;
  #closing: Promise<void> | undefined;
  #alive = true;

  constructor(opts: LiveDecoderOptions) {
    this.#opts = opts;
    this.#proc = spawn(opts.ffmpegPath, liveDecoderArgs(opts), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stdin.on('error', () => undefined); // EPIPE when ffmpeg dies first: onExit reports it
    this.#proc.stdout.on('data', (chunk: Buffer) => this.#onStdout(chunk));
    this.#proc.stderr.setEncoding('latin1');
    this.#proc.stderr.on('data', (chunk: string) => this.#onStderr(chunk));
    this.#exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (!this.#alive) return;
        this.#alive = false;
        resolve();
        opts.onExit(code, signal, this.#stderrTail.join('\n'));
      };
      this.#proc.on('exit', done);
      this.#proc.on('error', (err) => {
        this.#stderrTail.push(String(err));
        done(null, null);
      });
    });
    this.#proc.stdin.write(ivfFileHeader(opts.codec));
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  get alive(): boolean {
    return this.#alive && this.#closing === undefined;
  }

  /**
   * Hands one encoded frame (a VP8 frame or an Annex B access unit) to ffmpeg. Returns the pts it was
   * written with (later than `pts` only when the client's clock went back), or undefined once closed.
   */
  write(data: Uint8Array, pts: number): number | undefined {
    if (!this.alive) return undefined;
    // Muxers need strictly increasing timestamps; a client that restarts its clock must not break that.
    const safePts = pts > this.#lastPts ? pts : this.#lastPts + 1;
    this.#lastPts = safePts;
    this.#proc.stdin.write(Buffer.concat([ivfFrameHeader(data.byteLength, safePts), data]));
    return safePts;
  }

  /**
   * Ends the input so ffmpeg flushes and finalises the recording; kills it if it has not exited within
   * `graceMs`. Safe to call twice.
   */
  close(graceMs = 3000): Promise<void> {
    return (this.#closing ??= (async () => {
      if (this.#alive) this.#proc.stdin.end();
      const timer = setTimeout(() => this.#proc.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(timer);
    })());
  }

  #onStderr(chunk: string): void {
    this.#errLine += chunk;
    let nl: number;
    while ((nl = this.#errLine.indexOf('\n')) >= 0) {
      const line = this.#errLine.slice(0, nl).replace(/\r/g, '');
      this.#errLine = this.#errLine.slice(nl + 1);
      const m = SHOWINFO.exec(line);
      if (m && line.includes('showinfo')) {
        this.#infos.push({ pts: Number(m[2]), sourceWidth: Number(m[3]), sourceHeight: Number(m[4]) });
        this.#pair();
        continue;
      }
      if (line.includes('showinfo')) continue; // its per-frame detail lines
      this.#stderrTail.push(line);
      if (this.#stderrTail.length > 20) this.#stderrTail.shift();
      if (DECODE_ERROR.test(line)) this.#opts.onDecodeError(line);
    }
  }

  #onStdout(chunk: Buffer): void {
    this.#out = this.#out.length === 0 ? chunk : Buffer.concat([this.#out, chunk]);
    for (;;) {
      // "P6\n<w> <h>\n255\n" then w*h*3 bytes
      const head = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(this.#out.toString('latin1', 0, Math.min(this.#out.length, 40)));
      if (!head) {
        if (this.#out.length >= 40) {
          this.#stderrTail.push('ffmpeg wrote something other than PPM frames');
          this.#proc.kill('SIGKILL');
        }
        return;
      }
      const width = Number(head[1]);
      const height = Number(head[2]);
      const size = head[0].length + width * height * 3;
      if (this.#out.length < size) return;
      // Copy: the frame outlives this chunk, and the rest of the buffer is reused.
      const data = new Uint8Array(this.#out.subarray(head[0].length, size));
      this.#out = this.#out.subarray(size);
      this.#images.push({ data, width, height });
      this.#pair();
    }
  }

  #pair(): void {
    while (this.#infos.length > 0 && this.#images.length > 0) {
      const info = this.#infos.shift()!;
      const image = this.#images.shift()!;
      this.#opts.onFrame({ ...info, ...image });
    }
  }
}
