/**
 * A live session's WebRTC side: the werift peer that answers a client's offer with one receive-only video
 * transceiver (audio is accepted and set inactive), trickled ICE within its limits, keyframe requests (PLI, at
 * most one per PLI_MIN_INTERVAL_MS), and the `detections` data channel the client may open.
 */
import { RTCPeerConnection, useH264, useOPUS, usePCMU, useVP8, type RTCDataChannel, type RTCRtpTransceiver, type RtpPacket } from 'werift';
import type { Config } from '../config.js';
import { RateLimiter, rateLimited } from '../accounts/rate-limit.js';
import { AppError } from '../errors.js';
import { announceAddress, countLines, iceCandidateInits, liveCodecOf, MAX_ICE_CANDIDATES, type LiveCodec } from './sdp.js';

const PLI_MIN_INTERVAL_MS = 500;
/** Trickle requests (WHIP PATCH, live.ice) one session takes per window. */
const TRICKLE_PER_WINDOW = 20;
const TRICKLE_WINDOW_MS = 10_000;

export interface PeerEvents {
  /** Every RTP packet of the video track. */
  onRtp(rtp: RtpPacket): void;
  /** A message on the `detections` data channel. */
  onChannelMessage(data: string | Buffer): void;
  /** The connection failed (ICE or DTLS gone). */
  onFailed(): void;
}

export const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err)).replace(/\.$/, '');

export class LivePeer {
  readonly #pc: RTCPeerConnection;
  #transceiver: RTCRtpTransceiver | undefined;
  #ssrc: number | undefined;
  #dc: RTCDataChannel | undefined;
  #lastPliAt = -Infinity;
  /** ICE candidates taken (offer and trickle), and trickle requests per window. */
  #candidates = 0;
  readonly #trickle = new RateLimiter(TRICKLE_PER_WINDOW, TRICKLE_WINDOW_MS);

  constructor(live: Config['live']) {
    this.#pc = new RTCPeerConnection({
      iceServers: live.iceServers.map((s) => ({ ...s })),
      ...(live.portRange ? { icePortRange: [...live.portRange] as [number, number] } : {}),
      // Audio is negotiated only so offers that carry a microphone are accepted; it is set inactive.
      codecs: { video: [useVP8(), useH264()], audio: [useOPUS(), usePCMU()] },
    });
  }

  /** Answers the offer (the answer's SDP, with `announcedAddress` put in when set); VALIDATION_FAILED for an offer without VP8 or H.264 video. */
  async negotiate(sdp: string, announcedAddress: string | undefined, events: PeerEvents): Promise<string> {
    const pc = this.#pc;
    this.#candidates = countLines(sdp, 'a=candidate:', MAX_ICE_CANDIDATES);
    pc.onDataChannel.subscribe((dc) => {
      if (dc.label !== 'detections') return;
      this.#dc = dc;
      dc.onMessage.subscribe((data) => events.onChannelMessage(data));
    });
    pc.connectionStateChange.subscribe((state) => {
      if (state === 'failed') events.onFailed();
    });
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp });
    } catch (err) {
      if (/negotiate codecs/i.test(describe(err))) {
        throw new AppError('VALIDATION_FAILED', 'The offer has no codec this server accepts: video must be VP8 or H.264.');
      }
      throw err;
    }
    const video = pc.getTransceivers().find((t) => t.kind === 'video');
    if (!video || !video.codecs.some((c) => liveCodecOf(c.mimeType))) {
      throw new AppError('VALIDATION_FAILED', 'The offer has no video codec this server decodes (VP8 or H.264).');
    }
    for (const t of pc.getTransceivers()) t.setDirection(t === video ? 'recvonly' : 'inactive');
    this.#transceiver = video;
    // The track was announced during setRemoteDescription; its receiver is ready now.
    video.receiver.track.onReceiveRtp.subscribe((rtp: RtpPacket) => events.onRtp(rtp));
    await pc.setLocalDescription(await pc.createAnswer());
    const local = pc.localDescription?.sdp;
    if (!local) throw new Error('no local description');
    return announceAddress(local, announcedAddress);
  }

  /**
   * Trickled ICE from the client (a WHIP PATCH or a live.ice message): a candidate string (its m-line index
   * defaults to 0, the video section) or {candidate, sdpMid, sdpMLineIndex}. A request is refused whole, before
   * any candidate is added, when it holds more than MAX_ICE_PER_REQUEST, comes too often, or would take the
   * session past MAX_ICE_CANDIDATES: a peer connection's cost per candidate grows with the candidates it has.
   * Adding stops when `stopped()` says so (the session is ending).
   */
  async addIceCandidates(key: string, candidates: readonly unknown[], stopped: () => boolean): Promise<void> {
    const inits = iceCandidateInits(candidates);
    const wait = await this.#trickle.hit(key);
    if (wait > 0) throw rateLimited('ICE trickle requests for this session', wait);
    if (this.#candidates + inits.length > MAX_ICE_CANDIDATES) {
      throw new AppError('VALIDATION_FAILED', `A session takes at most ${MAX_ICE_CANDIDATES} ICE candidates; it has ${this.#candidates}.`);
    }
    this.#candidates += inits.length;
    for (const c of inits) {
      if (stopped()) return;
      try {
        await this.#pc.addIceCandidate(c);
      } catch (err) {
        throw new AppError('VALIDATION_FAILED', `The ICE candidate was refused: ${describe(err)}.`);
      }
    }
  }

  /** The codec of a packet's payload type, when it is video this server decodes (not RTX, not unknown). */
  codecOf(rtp: RtpPacket): LiveCodec | undefined {
    const codec = this.#transceiver?.codecs.find((c) => c.payloadType === rtp.header.payloadType);
    return codec ? liveCodecOf(codec.mimeType) : undefined;
  }

  /** The stream whose keyframes requestKeyframe asks for. */
  receiving(ssrc: number): void {
    this.#ssrc = ssrc;
  }

  /** Asks the sender for a keyframe (RTCP PLI), at most once per PLI_MIN_INTERVAL_MS. */
  requestKeyframe(): void {
    const now = performance.now();
    if (now - this.#lastPliAt < PLI_MIN_INTERVAL_MS || this.#ssrc === undefined || !this.#transceiver) return;
    this.#lastPliAt = now;
    this.#transceiver.receiver.sendRtcpPLI(this.#ssrc).catch(() => undefined);
  }

  /** A message on the data channel, when the client opened one and it is open. */
  send(message: object): void {
    const dc = this.#dc;
    if (!dc || dc.readyState !== 'open') return;
    try {
      dc.send(JSON.stringify(message));
    } catch {
      // the channel closed under us: the WebSocket copy still goes out
    }
  }

  async close(): Promise<void> {
    await this.#pc.close().catch(() => undefined);
  }
}
