/**
 * Streams a video file to a Lookout server as a live session and collects what the server says about
 * it: signalling over the WebSocket (`live.offer`) or WHIP, media from ffmpeg (real time, RTP) through
 * a werift peer connection, detections and stats from the WebSocket (and the data channel).
 *
 * Order of events: WebSocket open → offer/answer → peer connected → ffmpeg starts → file sent (or
 * `durationS`, or abort, or the server ends the session) → the last frame's detections (≤ 1 s idle) →
 * `live.stop` / WHIP DELETE → `live.ended` (≤ 10 s). ffmpeg, the peer and the socket are always closed.
 *
 * Errors: the server's refusals (HTTP or WebSocket `error` in reply to the offer) are thrown as
 * StreamError with the server's code and message. An abort before the server has answered rejects with
 * the signal's reason; once the session exists, an abort stops the media and ends the session as usual,
 * and the summary comes back.
 */
import { access, constants } from 'node:fs/promises';
import { StreamError } from './errors.js';
import type { DetectionsMessage, EndedMessage, PipelineFields, ServerMessage, StatsMessage, TrackMessage, ZoneMessage } from './messages.js';
import { SendingPeer } from './peer.js';
import { encodeClip, RtpSource, type EncodedClip, type VideoCodec } from './rtp-source.js';
import { ServerSocket } from './server-socket.js';
import { SessionLog } from './session-log.js';
import { aborted, deadline } from './wait.js';
import { whipDelete, whipOffer, type WhipSession } from './whip.js';

export type { Detection, DetectionsMessage, EndReason, EndedMessage, ErrorMessage, LiveStats, ServerMessage, StatsMessage } from './messages.js';
export { StreamError } from './errors.js';

export interface StreamOptions {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  server: string;
  /** Bearer token. */
  token: string;
  /** Any video ffmpeg can read. */
  file: string;
  codec: VideoCodec;
  /** Output frame rate (ffmpeg's fps filter), e.g. 30. */
  fps: number;
  /** WHIP (POST /api/v1/whip) instead of live.offer on the WebSocket. */
  whip?: boolean;
  model?: string;
  /** Pipeline fields sent with the offer (classifier, classes, minScore, maxDetections, zones, track). */
  pipeline?: PipelineFields;
  budgetMs?: number;
  record?: boolean;
  /** Keep the detections on the server (default true). */
  store?: boolean;
  /** Stop after this many seconds of media (default: the whole file). */
  durationS?: number;
  /** Scale before encoding (both or neither; default: keep). */
  width?: number;
  height?: number;
  /** Default: FFMPEG_PATH from the environment, else `ffmpeg`. */
  ffmpegPath?: string;
  /** Open a data channel labelled `detections` (default true). */
  dataChannel?: boolean;
  /** Every detections / live.stats / live.ended / error message as it arrives. */
  onMessage?: (m: ServerMessage) => void;
  signal?: AbortSignal;
}

export interface StreamSummary {
  sessionId: string;
  via: 'ws' | 'whip';
  /** Video frames handed to werift (RTP packets with the marker bit). */
  framesSent: number;
  /** The RTP timestamp of every frame sent, in order, as it left werift. */
  rtpTimestampsSent: number[];
  /** From the WebSocket (for WHIP: the `live:<id>` topic subscription). */
  detections: DetectionsMessage[];
  /** Detections messages received on the data channel. */
  dataChannelDetections: number;
  stats: StatsMessage[];
  /** `track` and `zone` events (tracking on, zones set). */
  events: (TrackMessage | ZoneMessage)[];
  ended: EndedMessage | undefined;
  errors: { code: string; message: string }[];
}

const SOCKET_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 15_000;
const ENDED_TIMEOUT_MS = 10_000;

async function validate(o: StreamOptions): Promise<void> {
  const bad = (message: string): never => {
    throw new StreamError('VALIDATION_FAILED', message);
  };
  if (o.codec !== 'vp8' && o.codec !== 'h264') bad(`codec must be vp8 or h264, got ${String(o.codec)}`);
  if (!(o.fps > 0 && o.fps <= 240)) bad(`fps must be in (0, 240], got ${o.fps}`);
  if (o.durationS !== undefined && !(o.durationS > 0)) bad(`durationS must be > 0, got ${o.durationS}`);
  if ((o.width === undefined) !== (o.height === undefined)) bad('width and height go together');
  for (const d of [o.width, o.height]) {
    if (d !== undefined && !(Number.isInteger(d) && d >= 16 && d <= 4096 && d % 2 === 0)) bad(`width and height must be even integers in 16..4096, got ${d}`);
  }
  try {
    new URL(o.server);
  } catch {
    bad(`server is not a URL: ${o.server}`);
  }
  await access(o.file, constants.R_OK).catch(() => bad(`cannot read ${o.file}`));
}

interface Negotiated {
  sessionId: string;
  whip: WhipSession | undefined;
}

/** Offer → answer over WHIP; the WebSocket subscribes to the session's topic. */
async function negotiateWhip(o: StreamOptions, socket: ServerSocket, peer: SendingPeer, log: SessionLog): Promise<Negotiated> {
  const p = o.pipeline ?? {};
  const whip = await whipOffer(
    o.server,
    o.token,
    await peer.offer(),
    {
      model: o.model,
      budgetMs: o.budgetMs,
      record: o.record,
      store: o.store,
      ...(p.classifier ? { classifier: p.classifier } : {}),
      ...(p.classes ? { classes: p.classes } : {}),
      ...(p.minScore !== undefined ? { minScore: p.minScore } : {}),
      ...(p.track !== undefined ? { track: p.track } : {}),
    },
    o.signal,
  );
  log.bind(whip.sessionId);
  socket.send({ type: 'subscribe', topic: `live:${whip.sessionId}` });
  try {
    await peer.accept(whip.sdp);
  } catch (e) {
    await whipDelete(whip.location, o.token).catch(() => undefined);
    throw e;
  }
  return { sessionId: whip.sessionId, whip };
}

/** Offer → answer over the WebSocket (`live.offer` / `live.answer`, or `error`). */
async function negotiateWs(o: StreamOptions, socket: ServerSocket, peer: SendingPeer, log: SessionLog): Promise<Negotiated> {
  socket.send({ type: 'live.offer', sdp: await peer.offer(), model: o.model, budgetMs: o.budgetMs, record: o.record, store: o.store, ...o.pipeline });
  const reply = await socket.waitFor((m) => (m.type === 'live.answer' || m.type === 'error' ? m : undefined), ANSWER_TIMEOUT_MS, 'live.answer', o.signal);
  if (reply.type === 'error') throw new StreamError(reply.code, reply.message);
  log.bind(reply.sessionId);
  await peer.accept(reply.sdp);
  return { sessionId: reply.sessionId, whip: undefined };
}

type Outcome = 'done' | 'aborted' | 'ended' | 'disconnected' | 'lost';

/** What ends the media early, as a race entry. */
function interruptions(o: StreamOptions, socket: ServerSocket, log: SessionLog): Promise<Outcome>[] {
  return [aborted(o.signal).then(() => 'aborted'), log.endedPromise.then(() => 'ended'), socket.closed.then(() => 'disconnected')];
}

/** Waits for the connection, plays the file through it, and returns what stopped it. */
async function sendMedia(o: StreamOptions, clip: EncodedClip, socket: ServerSocket, peer: SendingPeer, log: SessionLog): Promise<Outcome> {
  const first = await Promise.race([peer.connected(CONNECT_TIMEOUT_MS).then((): Outcome => 'done'), ...interruptions(o, socket, log)]);
  if (first !== 'done') return first;
  const source = await RtpSource.start({ ffmpegPath: ffmpegOf(o), codec: o.codec }, clip, (packet) => peer.write(packet));
  try {
    return await Promise.race([source.done.then((): Outcome => 'done'), peer.lost().then((): Outcome => 'lost'), ...interruptions(o, socket, log)]);
  } finally {
    await source.close();
  }
}

/** live.stop or WHIP DELETE, then up to 10 s for `live.ended`. */
async function endSession(o: StreamOptions, n: Negotiated, socket: ServerSocket, log: SessionLog): Promise<void> {
  if (log.ended) return;
  if (n.whip) await whipDelete(n.whip.location, o.token);
  else socket.send({ type: 'live.stop', sessionId: n.sessionId });
  const over = Promise.race([log.endedPromise, socket.closed]);
  await deadline(over, ENDED_TIMEOUT_MS, () => new StreamError('TIMEOUT', 'no live.ended')).catch(() => undefined); // summary says ended: undefined
}

const ffmpegOf = (o: StreamOptions): string => o.ffmpegPath ?? process.env['FFMPEG_PATH'] ?? 'ffmpeg';

export async function streamFile(opts: StreamOptions): Promise<StreamSummary> {
  await validate(opts);
  // Encode before connecting (as a camera's encoder would be running already): the session starts with media.
  const clip = await encodeClip({ ffmpegPath: ffmpegOf(opts), file: opts.file, codec: opts.codec, fps: opts.fps, durationS: opts.durationS, width: opts.width, height: opts.height });
  try {
    return await streamEncoded(opts, clip);
  } finally {
    await clip.dispose();
  }
}

async function streamEncoded(opts: StreamOptions, clip: EncodedClip): Promise<StreamSummary> {
  const log = new SessionLog(opts.onMessage);
  const socket = await ServerSocket.open(opts.server, opts.token, SOCKET_TIMEOUT_MS, opts.signal);
  const peer = new SendingPeer(opts.codec, opts.dataChannel ?? true);
  let negotiated: Negotiated | undefined;
  let finished = false;
  socket.listen((m) => {
    if (m.type === 'live.ice' && (log.sessionId === undefined || m.sessionId === log.sessionId)) {
      peer.addIceCandidate(m.candidate).catch(() => undefined); // a candidate werift cannot use is not fatal
    } else log.take(m);
  });
  try {
    negotiated = await (opts.whip ? negotiateWhip : negotiateWs)(opts, socket, peer, log);
    const outcome = await sendMedia(opts, clip, socket, peer, log);
    if (outcome === 'done') await log.settle(peer.rtpTimestamps.at(-1));
    if (outcome === 'disconnected') {
      const { code, reason } = await socket.closed;
      throw new StreamError('DISCONNECTED', `the WebSocket closed (${code}${reason ? `: ${reason}` : ''}) before the session ended`);
    }
    if (outcome === 'lost') throw new StreamError('CONNECTION_FAILED', 'the peer connection failed while sending');
    await endSession(opts, negotiated, socket, log);
    finished = true;
    return {
      sessionId: negotiated.sessionId,
      via: opts.whip ? 'whip' : 'ws',
      framesSent: peer.framesSent,
      rtpTimestampsSent: [...peer.rtpTimestamps],
      detections: log.detections,
      dataChannelDetections: peer.dataChannelDetections,
      stats: log.stats,
      events: log.events,
      ended: log.ended,
      errors: log.errors,
    };
  } finally {
    // On the way out of a failure, end the session as stopped rather than leave it to the server's timeouts.
    if (!finished && negotiated && !log.ended) {
      if (negotiated.whip) await whipDelete(negotiated.whip.location, opts.token).catch(() => undefined);
      else socket.send({ type: 'live.stop', sessionId: negotiated.sessionId });
    }
    await peer.close();
    socket.close();
  }
}
