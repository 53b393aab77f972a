/**
 * One live session: a werift peer receiving a camera, the frames it carries decoded by an ffmpeg process
 * (which also records them), the newest decoded frame offered to the shared detector, detections sent
 * back on the data channel and to WebSocket subscribers, stats every second, tokens paid as it goes.
 *
 * Frame accounting (the numbers add up): every frame that arrives whole is counted in `framesIn` and ends
 * as exactly one of processed, dropped stale (a newer frame replaced it before the detector was free),
 * dropped late (older than the budget when the detector could start), or dropped other (the decoder
 * could not decode it, or the session ended with it in flight).
 */
import { randomUUID } from 'node:crypto';
import { stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { RtpPacket } from 'werift';
import type { Config } from '../config.js';
import type { Db, LiveEndReason } from '../db/schema.js';
import { AppError, isAppError } from '../errors.js';
import type { DetectResult, Detector } from '../inference/types.js';
import type { Logger } from '../log.js';
import { LiveDecoder, type DecodedFrame } from '../media/live-decoder.js';
import type { Metrics } from '../metrics.js';
import type { FfmpegInfo } from '../media/ffmpeg.js';
import { LiveBilling, SessionTakenOver, type FrameTicket } from './billing.js';
import { FrameAssembler, type EncodedFrame } from './frame-assembler.js';
import { RtpClock } from './ivf.js';
import { round1 } from './latency.js';
import type { LivePipeline } from './live-pipeline.js';
import type { ChannelError, ConfiguredMessage, DetectionsMessage, LiveEvent, LiveStats } from './messages.js';
import { SessionStats } from './session-stats.js';
import type { DetectionStore } from './detection-store.js';
import { finishLiveSession, insertLiveSession, setRecordingPath, updateLiveProgress, type LiveProgress } from './repo.js';
import type { DetectorScheduler, FrameSource } from './scheduler.js';
import { describe, LivePeer } from './peer.js';
import { assertVideoOffer } from './sdp.js';

export interface LiveSessionDeps {
  readonly db: Db;
  readonly logger: Logger;
  readonly live: Config['live'];
  readonly recordingsDir: string;
  readonly priceMilli: number;
  readonly ffmpeg: FfmpegInfo;
  readonly detector: Detector;
  readonly scheduler: DetectorScheduler;
  /** Sends an event to everyone watching `live:<sessionId>`. */
  readonly publish: (sessionId: string, event: LiveEvent) => void;
  readonly onEnded: (session: LiveSession) => void;
  readonly metrics?: Metrics;
  /** This server's NODE_ID, stored with the session. */
  readonly nodeId: string;
  /**
   * The stages after the detector (filters, tracker, zones, classifier), made for the session id; `spend` takes
   * milli-tokens from the session's credit (classified crops), false when it does not cover them.
   */
  readonly pipeline: (sessionId: string, spend: (milli: number) => boolean) => LivePipeline;
  /** Where sessions that keep their detections store them (one per server, batched across sessions). */
  readonly detections: DetectionStore;
  /** Hears every event the session publishes, after its subscribers (webhooks). */
  readonly onEvent?: (session: LiveSession, event: LiveEvent) => void;
}

export interface LiveSessionRequest {
  readonly userId: string;
  readonly sdp: unknown;
  readonly via: 'ws' | 'whip';
  readonly budgetMs: number;
  readonly record: boolean;
  /** Keep the detections of every processed frame (live_detections). */
  readonly store: boolean;
}

interface FrameMeta {
  readonly frameNo: number;
  readonly rtpTimestamp: number;
  /** Stream time of the frame (the unwrapped RTP clock), ms: the tracker's clock. */
  readonly ptsMs: number;
  readonly arrivedAt: number;
  readonly writtenAt: number;
}

interface Pending {
  readonly decoded: DecodedFrame;
  readonly meta: FrameMeta;
  readonly decodedAt: number;
}

/** Frames dropped as late in a row before one is processed anyway (the pipeline itself is over budget). */
const MAX_LATE_IN_A_ROW = 5;
const STATS_INTERVAL_MS = 1000;
const LOST_MESSAGE = 'Another server ended this session: this one had stopped sending heartbeats for too long.';
const MAX_DETECTOR_ERRORS_IN_A_ROW = 10;

export class LiveSession implements FrameSource {
  readonly id: string;
  readonly userId: string;
  readonly via: 'ws' | 'whip';
  readonly budgetMs: number;
  readonly startedAt = Date.now();
  readonly #d: LiveSessionDeps;
  readonly #peer: LivePeer;
  readonly #billing: LiveBilling;
  readonly #recordingPath: string | undefined;
  readonly #clock = new RtpClock();
  readonly #inFlight = new Map<number, FrameMeta>();
  /** Frame counters, latency, codec and size. */
  readonly #n: SessionStats;
  #assembler: FrameAssembler | undefined;
  #decoder: LiveDecoder | undefined;
  #slot: Pending | undefined;
  #lateInARow = 0;
  #detectorErrorsInARow = 0;
  #lastRtpAt: number;
  #timer: NodeJS.Timeout | undefined;
  /** The last frame taken, until its detections are delivered (deliveries run in frame order). */
  #detecting: Promise<void> | undefined;
  #ending: Promise<void> | undefined;
  /** The ticket of the frame whose later stages (classifier crops) run now. */
  #delivering: FrameTicket | undefined;
  readonly #stage: LivePipeline;
  readonly #store: DetectionStore | undefined;
  #lastPtsMs = 0;

  private constructor(deps: LiveSessionDeps, req: LiveSessionRequest, id: string, peer: LivePeer) {
    this.#d = deps;
    this.id = id;
    this.userId = req.userId;
    this.via = req.via;
    this.budgetMs = req.budgetMs;
    this.#peer = peer;
    this.#lastRtpAt = performance.now();
    this.#recordingPath = req.record ? path.join(deps.recordingsDir, id) : undefined; // extension once the codec is known
    this.#stage = deps.pipeline(id, (milli) => this.#billing.trySpend(milli, this.#delivering));
    this.#store = req.store ? deps.detections : undefined;
    this.#billing = new LiveBilling(deps.db, {
      userId: req.userId,
      sessionId: id,
      priceMilli: deps.priceMilli,
      onCredit: () => deps.scheduler.wake(),
      onError: (err) => deps.logger.error({ err, sessionId: id }, 'live: reserving tokens failed'),
      onCharged: (milli) => deps.metrics?.tokensCharged.inc({ kind: 'live' }, milli / 1000),
    });
    this.#n = new SessionStats(req.budgetMs, deps.detector.model.name, deps.metrics);
  }

  get model(): string {
    return this.#d.detector.model.name;
  }

  get ended(): boolean {
    return this.#ending !== undefined;
  }

  /**
   * Answers a client's offer: negotiates, reserves the first tokens, records the session row. Nothing is
   * left behind when any step fails (no row, no hold, no peer).
   */
  static async start(deps: LiveSessionDeps, req: LiveSessionRequest): Promise<{ session: LiveSession; answer: string }> {
    assertVideoOffer(req.sdp);
    const id = randomUUID();
    const peer = new LivePeer(deps.live);
    const session = new LiveSession(deps, req, id, peer);
    let answer: string;
    try {
      answer = await peer.negotiate(req.sdp, deps.live.announcedAddress, {
        onRtp: (rtp) => session.#onRtp(rtp),
        onChannelMessage: (data) => void session.#onDataChannelMessage(data),
        onFailed: () => void session.end('disconnected'),
      });
    } catch (err) {
      await peer.close();
      throw isAppError(err) ? err : new AppError('VALIDATION_FAILED', `The offer could not be negotiated: ${describe(err)}.`);
    }
    try {
      await session.#billing.start();
      await insertLiveSession(deps.db, { id, userId: req.userId, model: session.model, via: req.via, budgetMs: req.budgetMs, nodeId: deps.nodeId, pipeline: session.#stage.config, storesDetections: req.store });
    } catch (err) {
      await peer.close();
      await session.#billing.finish().catch(() => undefined);
      throw err;
    }
    session.#timer = setInterval(() => session.#tick(), STATS_INTERVAL_MS);
    deps.scheduler.add(session);
    deps.metrics?.liveSessionsStarted.inc({ model: session.model, via: req.via });
    deps.logger.info({ sessionId: id, userId: req.userId, model: session.model, via: req.via, budgetMs: req.budgetMs }, 'live session started');
    return { session, answer };
  }

  /** Trickled ICE from the client (a WHIP PATCH or a live.ice message), within the peer's limits. */
  addIceCandidates(candidates: readonly unknown[]): Promise<void> {
    return this.#peer.addIceCandidates(this.id, candidates, () => this.#ending !== undefined);
  }

  // ------------------------------------------------------------------ media in

  #onRtp(rtp: RtpPacket): void {
    if (this.#ending) return;
    const now = performance.now();
    this.#lastRtpAt = now;
    if (!this.#assembler && !this.#startMedia(rtp)) return;
    for (const frame of this.#assembler!.push(rtp, now)) this.#onEncodedFrame(frame, now);
  }

  /** First packet: the payload type tells the codec; start the decoder and ask for a keyframe. */
  #startMedia(rtp: RtpPacket): boolean {
    const kind = this.#peer.codecOf(rtp);
    if (!kind) return false; // RTX or an unknown payload type: not video we decode
    this.#n.codec = kind;
    this.#peer.receiving(rtp.header.ssrc);
    this.#assembler = new FrameAssembler(kind, () => this.#peer.requestKeyframe());
    const recordingPath = this.#recordingPath ? `${this.#recordingPath}.${kind === 'vp8' ? 'webm' : 'mkv'}` : undefined;
    this.#decoder = new LiveDecoder({
      ffmpegPath: this.#d.ffmpeg.path,
      ffmpegVersion: this.#d.ffmpeg.version,
      codec: kind,
      target: this.#d.detector.model.inputSize,
      resize: this.#d.detector.resize,
      recordingPath,
      onFrame: (f) => this.#onDecoded(f),
      onDecodeError: (line) => {
        this.#d.logger.debug({ sessionId: this.id, line }, 'live: decoder error');
        this.#peer.requestKeyframe();
      },
      onExit: (code, signal, tail) => {
        if (this.#ending) return;
        this.#d.logger.error({ sessionId: this.id, code, signal, stderr: tail }, 'live: ffmpeg exited during the session');
        void this.end('error');
      },
    });
    this.#peer.requestKeyframe();
    if (recordingPath) {
      setRecordingPath(this.#d.db, this.id, recordingPath).catch((err: unknown) => this.#d.logger.error({ err, sessionId: this.id }, 'live: linking the recording failed'));
    }
    return true;
  }

  #onEncodedFrame(frame: EncodedFrame, now: number): void {
    this.#n.framesIn++;
    const unwrapped = this.#clock.unwrap(frame.rtpTimestamp);
    const pts = this.#decoder?.write(frame.data, unwrapped);
    if (pts === undefined) {
      this.#n.other++;
      return;
    }
    const ptsMs = unwrapped / 90; // the video RTP clock is 90 kHz
    this.#inFlight.set(pts, { frameNo: this.#n.framesIn, rtpTimestamp: frame.rtpTimestamp, ptsMs, arrivedAt: frame.arrivedAt, writtenAt: now });
  }

  #onDecoded(decoded: DecodedFrame): void {
    if (this.#ending) return;
    // Frames written before this one that never came out were lost by the decoder.
    for (const pts of this.#inFlight.keys()) {
      if (pts >= decoded.pts) break;
      this.#inFlight.delete(pts);
      this.#n.other++;
    }
    const meta = this.#inFlight.get(decoded.pts);
    if (!meta) return;
    this.#inFlight.delete(decoded.pts);
    this.#n.width = decoded.sourceWidth;
    this.#n.height = decoded.sourceHeight;
    if (this.#slot) this.#n.stale++;
    this.#slot = { decoded, meta, decodedAt: performance.now() };
    this.#d.scheduler.wake();
  }

  // ------------------------------------------------------------------ detector

  take(now: number): ReturnType<FrameSource['take']> {
    const p = this.#slot;
    if (!p || this.#ending) return undefined;
    // The budget covers every stage: a frame is late when, with the time the stages after the detector have
    // been taking (median of the last second), it could not be done within it.
    const postMs = this.#n.postMs(now);
    const age = now - p.meta.arrivedAt;
    if (age + postMs > this.budgetMs && this.#lateInARow < MAX_LATE_IN_A_ROW) {
      this.#slot = undefined;
      this.#n.late++;
      this.#lateInARow++;
      return undefined;
    }
    const ticket = this.#billing.tryConsume();
    if (!ticket) {
      if (this.#billing.exhausted) void this.end('insufficient_tokens');
      return undefined; // the frame waits for credit (or is replaced by a newer one)
    }
    this.#n.pipelineOverBudget = age + postMs > this.budgetMs;
    this.#lateInARow = 0;
    this.#slot = undefined;
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const before = this.#detecting ?? Promise.resolve();
    this.#detecting = mine;
    return {
      frame: { data: p.decoded.data, width: p.decoded.width, height: p.decoded.height },
      deadline: p.meta.arrivedAt + this.budgetMs - postMs,
      onDone: (result, startedAt) => {
        // The detector is free for the next frame now; this frame's later stages run after the previous frame's.
        void before
          .then(() => this.#deliver(p, result, startedAt, ticket))
          .catch((err: unknown) => this.#d.logger.error({ err, sessionId: this.id }, 'live: delivering detections failed'))
          .finally(() => {
            if (this.#detecting === mine) this.#detecting = undefined;
            done();
          });
      },
    };
  }

  async #deliver(p: Pending, detected: DetectResult | Error, detectedAt: number, ticket: FrameTicket): Promise<void> {
    const startedAt = detectedAt;
    let result: DetectResult | Error = detected;
    let stage: Awaited<ReturnType<LivePipeline['process']>> | undefined;
    if (!(result instanceof Error)) {
      const { decoded } = p;
      this.#delivering = ticket; // the frame's crops are paid with it (deliveries run one at a time, in order)
      try {
        stage = await this.#stage.process({ data: decoded.data, width: decoded.width, height: decoded.height }, result.objects, p.meta.ptsMs);
        this.#lastPtsMs = Math.max(this.#lastPtsMs, p.meta.ptsMs);
      } catch (err) {
        result = err instanceof Error ? err : new Error(String(err));
      } finally {
        this.#delivering = undefined;
      }
    }
    if (result instanceof Error || !stage) {
      this.#billing.giveBack(ticket);
      this.#n.other++;
      this.#d.logger.error({ sessionId: this.id, err: result }, 'live: detection failed');
      if (++this.#detectorErrorsInARow >= MAX_DETECTOR_ERRORS_IN_A_ROW) void this.end('error');
      return;
    }
    this.#detectorErrorsInARow = 0;
    const { decoded, meta } = p;
    const sx = decoded.sourceWidth / decoded.width;
    const sy = decoded.sourceHeight / decoded.height;
    const objects = stage.out.objects.map((o) => ({
      ...o,
      box: [round1(o.box[0] * sx), round1(o.box[1] * sy), round1(o.box[2] * sx), round1(o.box[3] * sy)] as [number, number, number, number],
    }));
    const message: DetectionsMessage = {
      type: 'detections',
      sessionId: this.id,
      frame: meta.frameNo,
      rtpTimestamp: meta.rtpTimestamp,
      width: decoded.sourceWidth,
      height: decoded.sourceHeight,
      objects,
      timings: {
        queueMs: round2(startedAt - p.decodedAt),
        decodeMs: round2(p.decodedAt - meta.writtenAt),
        inferMs: round2(result.timings.totalMs),
        classifyMs: round2(stage.out.timings.classifyMs),
        trackMs: round2(stage.out.timings.trackMs),
        totalMs: 0,
      },
    };
    const sentAt = performance.now();
    const totalMs = sentAt - meta.arrivedAt;
    message.timings.totalMs = round2(totalMs);
    this.#billing.confirm(ticket); // counted and charged together: the next settlement records both
    this.#n.processedFrame(sentAt, totalMs, message.timings, stage.out.classified > 0);
    this.#sendDataChannel(message);
    this.#store?.add(this.id, message, Math.round(p.meta.ptsMs * 10) / 10);
    this.#publish(message);
    for (const ev of stage.events) {
      this.#sendDataChannel(ev);
      this.#publish(ev);
    }
  }

  // ------------------------------------------------------------------ live.configure

  /** Changes the pipeline from the next frame on (live.configure); throws VALIDATION_FAILED and changes nothing. */
  async configure(raw: Record<string, unknown>): Promise<ConfiguredMessage> {
    if (this.#ending) throw new AppError('NOT_FOUND', 'Live session not found (or it has ended).');
    const answer = await this.#stage.configure(raw);
    this.#d.logger.info({ sessionId: this.id, config: answer.config }, 'live session reconfigured');
    return answer;
  }

  /** `{type: "configure", ...}` on the data channel: answered there with live.configured or an error. */
  async #onDataChannelMessage(data: string | Buffer): Promise<void> {
    let o: unknown;
    try {
      o = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
    } catch {
      o = undefined;
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o) || (o as { type?: unknown }).type !== 'configure') {
      this.#sendDataChannel({ type: 'error', code: 'VALIDATION_FAILED', message: 'The detections channel takes {"type": "configure", ...} messages only.' });
      return;
    }
    try {
      const answer = await this.configure(o as Record<string, unknown>);
      this.#sendDataChannel(answer);
    } catch (err) {
      const e = isAppError(err) ? err : new AppError('INTERNAL', 'Something went wrong on our side; the error was logged.');
      if (!isAppError(err)) this.#d.logger.error({ err, sessionId: this.id }, 'live: configure failed');
      this.#sendDataChannel({ type: 'error', code: e.code, message: e.message, re: 'configure' });
    }
  }

  /** To everyone watching `live:<id>`, then to the session's other listeners (webhooks). */
  #publish(event: LiveEvent): void {
    this.#d.publish(this.id, event);
    this.#d.onEvent?.(this, event);
  }

  #sendDataChannel(message: LiveEvent | ChannelError): void {
    this.#peer.send(message);
  }

  // ------------------------------------------------------------------ stats, billing, idle

  stats(whole = false): LiveStats {
    return this.#n.stats({ chargedMilli: this.#billing.spentMilli, counts: this.#stage.counts }, whole);
  }

  /** What the session's row records, with what the settlements so far have charged. */
  #progress(): LiveProgress {
    return this.#n.progress({ chargedMilli: this.#billing.chargedMilli, counts: this.#stage.counts });
  }

  #tick(): void {
    if (this.#ending) return;
    if (performance.now() - this.#lastRtpAt > this.#d.live.idleTimeoutS * 1000) {
      void this.end('disconnected');
      return;
    }
    this.#publish({ type: 'live.stats', sessionId: this.id, ...this.stats() });
    this.#n.feedMetrics();
    // The counters are read in the same tick as the amount the settlement takes: the row records exactly the
    // frames its charge pays for, so another server ending it as lost leaves it charged for what it says.
    const p = this.#progress();
    this.#billing.settle((tx, charged) => updateLiveProgress(tx, this.id, { ...p, tokensChargedMilli: charged })).catch((err: unknown) => {
      if (err instanceof SessionTakenOver) void this.end('server_lost', LOST_MESSAGE);
      else this.#d.logger.error({ err, sessionId: this.id }, 'live: settlement failed');
    });
  }

  // ------------------------------------------------------------------ the end

  /** Ends the session once: stops media, finalises the recording, settles tokens, tells subscribers. */
  end(reason: LiveEndReason, message?: string): Promise<void> {
    return (this.#ending ??= (async () => {
      clearInterval(this.#timer);
      this.#d.scheduler.remove(this);
      await this.#detecting; // a frame on the detector finishes and is paid for
      // Frames still in the decoder or waiting for the detector will not be processed now.
      this.#n.other += this.#inFlight.size + (this.#slot ? 1 : 0);
      this.#inFlight.clear();
      this.#slot = undefined;
      for (const ev of this.#stage.finish(this.#lastPtsMs)) {
        this.#sendDataChannel(ev);
        this.#publish(ev);
      }
      const ended: LiveEvent = { type: 'live.ended', sessionId: this.id, reason, stats: this.stats(true), ...(message ? { message } : {}) };
      this.#sendDataChannel(ended);
      await this.#peer.close();
      await this.#decoder?.close();
      if (reason !== 'server_lost') {
        try {
          await this.#billing.finish((tx, charged) => updateLiveProgress(tx, this.id, { ...this.#progress(), tokensChargedMilli: charged }));
        } catch (err) {
          if (err instanceof SessionTakenOver) {
            reason = 'server_lost';
            message = LOST_MESSAGE;
          } else this.#d.logger.error({ err, sessionId: this.id }, 'live: final settlement failed');
        }
      }
      // Ended as lost by another server, which settled it: give back only what was reserved since.
      if (reason === 'server_lost') await this.#billing.abandon().catch((err: unknown) => this.#d.logger.error({ err, sessionId: this.id }, 'live: refund after a takeover failed'));
      const recordingPath = await this.#keptRecording();
      await this.#store?.flush(); // every processed frame is stored before the session reads as ended
      try {
        if (reason === 'server_lost') {
          if (recordingPath) await setRecordingPath(this.#d.db, this.id, recordingPath);
        } else await finishLiveSession(this.#d.db, this.id, this.#progress(), { reason, recordingPath });
      } catch (err) {
        this.#d.logger.error({ err, sessionId: this.id }, 'live: could not save the ended session');
      }
      const stats = this.stats(true);
      this.#n.feedMetrics();
      this.#d.metrics?.liveSessionsEnded.inc({ model: this.model, reason });
      this.#publish({ type: 'live.ended', sessionId: this.id, reason, stats, ...(message ? { message } : {}) });
      this.#d.logger.info({ sessionId: this.id, reason, ...stats }, 'live session ended');
      this.#d.onEnded(this);
    })());
  }

  /** The recording's path when it holds something; an empty or missing file is removed and forgotten. */
  async #keptRecording(): Promise<string | null> {
    const codec = this.#n.codec;
    if (!this.#recordingPath || !codec) return null;
    const file = `${this.#recordingPath}.${codec === 'vp8' ? 'webm' : 'mkv'}`;
    const st = await stat(file).catch(() => undefined);
    const n = this.#n;
    if (st && st.size > 0 && n.processed + n.stale + n.late > 0) return file;
    await unlink(file).catch(() => undefined);
    return null;
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
