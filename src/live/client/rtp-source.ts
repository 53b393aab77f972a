/**
 * A video file played in real time as RTP packets: ffmpeg (`-re`) encodes it to VP8 or H.264 and sends
 * RTP to a UDP socket on 127.0.0.1 that this class binds; every packet is handed to `onPacket`.
 * werift has no packetizers, so ffmpeg's RTP muxer does that work.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
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
  h264: ['-c:v', 'libx264', '-profile:v', 'baseline', '-tune', 'zerolatency', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '60', '-bsf:v', 'h264_mp4toannexb'],
};

/** The ffmpeg command line that plays `file` in real time as RTP to 127.0.0.1:`port`. */
export function ffmpegRtpArgs(o: RtpSourceOptions, port: number): string[] {
  const filters = [o.width && o.height ? `scale=${o.width}:${o.height}` : undefined, `fps=${o.fps}`].filter((f) => f !== undefined);
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-i', o.file,
    ...(o.durationS !== undefined ? ['-t', String(o.durationS)] : []),
    '-an', '-sn', '-dn',
    '-vf', filters.join(','),
    ...ENCODER_ARGS[o.codec],
    '-f', 'rtp', `rtp://127.0.0.1:${port}?pkt_size=${o.packetSize ?? 1200}`,
  ];
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

  /** Binds the UDP socket and starts ffmpeg sending to it. */
  static async start(opts: RtpSourceOptions, onPacket: (packet: Buffer) => void): Promise<RtpSource> {
    const socket = await bindLoopback();
    const child = spawn(opts.ffmpegPath, ffmpegRtpArgs(opts, socket.address().port), { stdio: ['ignore', 'ignore', 'pipe'] });
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
