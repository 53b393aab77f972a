/**
 * A video file played in real time as RTP packets. ffmpeg first encodes it to VP8 or H.264 (with the
 * settings of a phone's real-time encoder) into a temporary file, then plays that file (`-re`, stream copy)
 * as RTP to a UDP socket on 127.0.0.1 that this class binds; every packet is handed to `onPacket`. werift
 * has no packetizers, so ffmpeg's RTP muxer does that work. Encoding first keeps the encoder's CPU out of
 * the measurement when client and server share a machine (as in the tests and the benchmark).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StreamError } from './errors.js';
import { sleep } from './wait.js';

export type VideoCodec = 'vp8' | 'h264';

export interface RtpSourceOptions {
  ffmpegPath: string;
  file: string;
  codec: VideoCodec;
  fps: number;
  durationS?: number;
  width?: number;
  height?: number;
  /** Largest RTP packet ffmpeg writes (default 1200, leaving room for SRTP and extensions). */
  packetSize?: number;
}

const ENCODER_ARGS: Record<VideoCodec, string[]> = {
  vp8: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1M', '-g', '60'],
  // Parameter sets before every keyframe, as WebRTC senders do.
  h264: ['-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '60', '-x264-params', 'repeat-headers=1'],
};

/** The ffmpeg command line that encodes `file` into `out` (WebM for VP8, Matroska for H.264). */
export function ffmpegEncodeArgs(o: RtpSourceOptions, out: string): string[] {
  const filters = [o.width && o.height ? `scale=${o.width}:${o.height}` : undefined, `fps=${o.fps}`].filter((f) => f !== undefined);
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
    '-i', o.file,
    ...(o.durationS !== undefined ? ['-t', String(o.durationS)] : []),
    '-an', '-sn', '-dn',
    '-vf', filters.join(','),
    ...ENCODER_ARGS[o.codec],
    out,
  ];
}

/** The ffmpeg command line that plays the encoded file in real time as RTP to 127.0.0.1:`port`. */
export function ffmpegRtpArgs(o: Pick<RtpSourceOptions, 'codec' | 'packetSize'>, encoded: string, port: number): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-i', encoded,
    '-map', '0:v:0', '-c:v', 'copy', ...(o.codec === 'h264' ? ['-bsf:v', 'h264_mp4toannexb'] : []),
    '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=${o.packetSize ?? 1200}`,
  ];
}

export interface EncodedClip {
  readonly file: string;
  /** Removes the temporary file; safe to call twice. */
  dispose(): Promise<void>;
}

/** Encodes `o.file` as a phone's real-time encoder would, into a temporary file, ready to be played. */
export async function encodeClip(o: RtpSourceOptions): Promise<EncodedClip> {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'lookout-stream-'));
  const dispose = (): Promise<void> => rm(tmpDir, { recursive: true, force: true });
  try {
    const file = path.join(tmpDir, o.codec === 'vp8' ? 'encoded.webm' : 'encoded.mkv');
    await encode(o, file);
    return { file, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

function encode(o: RtpSourceOptions, out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(o.ffmpegPath, ffmpegEncodeArgs(o, out), { maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
      if (err) reject(new StreamError('FFMPEG_FAILED', `ffmpeg could not encode ${o.file}: ${(stderr || err.message).trim().slice(-1000)}`));
      else resolve();
    });
  });
}

function bindLoopback(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** Time left for packets still in the socket's queue once ffmpeg has exited. */
const DRAIN_MS = 100;
/** Time ffmpeg gets to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2_000;

export class RtpSource {
  readonly #socket: Socket;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  readonly #done: Promise<void>;
  #stderr = '';
  #closing: Promise<void> | undefined;

  private constructor(socket: Socket, child: ChildProcess, onPacket: (packet: Buffer) => void) {
    this.#socket = socket;
    this.#child = child;
    socket.on('message', (msg) => onPacket(msg));
    socket.on('error', () => undefined); // a loopback socket has nothing to report that ffmpeg's exit does not
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (this.#stderr = (this.#stderr + d).slice(-2_000)));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    this.#exited = exit.then(() => undefined);
    this.#done = exit.then(async ({ code, signal, error }) => {
      if (this.#closing) return; // stopped by us: not a failure
      if (error) throw new StreamError('FFMPEG_FAILED', `cannot run ffmpeg: ${error.message}`);
      if (code !== 0) throw new StreamError('FFMPEG_FAILED', `ffmpeg exited with ${code ?? signal}: ${this.#stderr.trim()}`);
      await sleep(DRAIN_MS);
    });
    this.#done.catch(() => undefined); // observed by whoever awaits `done`; never unhandled
  }

  /** Binds the UDP socket and starts ffmpeg playing the encoded clip to it. */
  static async start(opts: Pick<RtpSourceOptions, 'ffmpegPath' | 'codec' | 'packetSize'>, clip: EncodedClip, onPacket: (packet: Buffer) => void): Promise<RtpSource> {
    const socket = await bindLoopback();
    const child = spawn(opts.ffmpegPath, ffmpegRtpArgs(opts, clip.file, socket.address().port), { stdio: ['ignore', 'ignore', 'pipe'] });
    return new RtpSource(socket, child, onPacket);
  }

  /** Resolves when the whole file (or `durationS`) has been sent; rejects when ffmpeg fails. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Stops ffmpeg (SIGTERM, then SIGKILL) and closes the socket; resolves once the process is gone. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.#stop();
    return this.#closing;
  }

  async #stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      await this.#exited;
      clearTimeout(killer);
    }
    this.#socket.close();
  }
}
