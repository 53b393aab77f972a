/**
 * The sending side of a live session: a werift peer connection with one send-only video track
 * restricted to one codec (and, optionally, the `detections` data channel). RTP packets from
 * ffmpeg go in through `write`, which counts the frames (packets with the marker bit) and keeps the
 * RTP timestamp each one left with, after werift's rewrite.
 */
import { MediaStreamTrack, RTCPeerConnection, RtpPacket, useH264, useVP8, type RTCDataChannel } from 'werift';
import { StreamError } from './errors.js';
import { parseServerMessage, type IceCandidateInit } from './messages.js';
import type { VideoCodec } from './rtp-source.js';
import { deadline } from './wait.js';

type ConnectionState = RTCPeerConnection['connectionState'];

/** Bounds on werift's own steps (offer with candidate gathering, applying the answer, closing). */
const STEP_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 3_000;

export class SendingPeer {
  readonly #pc: RTCPeerConnection;
  readonly #track: MediaStreamTrack;
  readonly #channel: RTCDataChannel | undefined;
  #framesSent = 0;
  readonly #timestamps: number[] = [];
  #channelDetections = 0;
  #closing: Promise<void> | undefined;

  constructor(codec: VideoCodec, dataChannel: boolean) {
    // No STUN: werift's default is a public server, and the server is reached on a host candidate.
    // max-bundle: one ICE transport for video and data channel. With werift's default (max-compat) the
    // offer gathers a transport per section, and the one BUNDLE makes redundant keeps its UDP sockets
    // open after close(), so a process that streamed with a data channel never exits.
    this.#pc = new RTCPeerConnection({
      iceServers: [],
      bundlePolicy: 'max-bundle',
      codecs: { video: [codec === 'vp8' ? useVP8() : useH264()] },
    });
    this.#track = new MediaStreamTrack({ kind: 'video' });
    this.#pc.addTransceiver(this.#track, { direction: 'sendonly' });
    if (dataChannel) {
      this.#channel = this.#pc.createDataChannel('detections');
      this.#channel.onMessage.subscribe((data) => {
        const m = parseServerMessage(typeof data === 'string' ? data : data.toString('utf8'));
        if (m?.type === 'detections') this.#channelDetections++;
      });
    }
  }

  /** A complete offer: werift gathers every candidate before `setLocalDescription` resolves. */
  async offer(): Promise<string> {
    const gathered = (async () => {
      await this.#pc.setLocalDescription(await this.#pc.createOffer());
      return this.#pc.localDescription?.sdp;
    })();
    const sdp = await deadline(gathered, STEP_TIMEOUT_MS, () => new StreamError('TIMEOUT', `no local offer after ${STEP_TIMEOUT_MS} ms`));
    if (!sdp) throw new StreamError('CONNECTION_FAILED', 'no local description after createOffer');
    return sdp;
  }

  async accept(answerSdp: string): Promise<void> {
    const applied = this.#pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
    await deadline(applied, STEP_TIMEOUT_MS, () => new StreamError('TIMEOUT', `answer not applied after ${STEP_TIMEOUT_MS} ms`));
  }

  async addIceCandidate(candidate: IceCandidateInit | null): Promise<void> {
    await this.#pc.addIceCandidate(candidate ?? undefined);
  }

  get state(): ConnectionState {
    return this.#pc.connectionState;
  }

  /** Resolves once ICE and DTLS are up; rejects when the connection fails or is closed first. */
  connected(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    let off = (): void => undefined;
    const up = new Promise<void>((resolve, reject) => {
      const check = (s: ConnectionState): void => {
        if (s === 'connected') resolve();
        else if (s === 'failed' || s === 'closed') reject(new StreamError('CONNECTION_FAILED', `peer connection ${s} before media started`));
      };
      off = this.#pc.connectionStateChange.subscribe(check).unSubscribe;
      check(this.#pc.connectionState);
    });
    return deadline(up, timeoutMs, () => new StreamError('TIMEOUT', `peer connection not connected after ${timeoutMs} ms`), signal).finally(() => off());
  }

  /** Resolves when an established connection fails or closes (never while it stays up). */
  lost(): Promise<ConnectionState> {
    return new Promise((resolve) => {
      const { unSubscribe } = this.#pc.connectionStateChange.subscribe((s) => {
        if (s === 'failed' || s === 'closed') {
          unSubscribe();
          resolve(s);
        }
      });
    });
  }

  /** Hands one RTP packet from the encoder to werift (which rewrites payload type, SSRC and timestamp offset). */
  write(packet: Buffer): void {
    if (this.#closing || packet.length < 12) return;
    let rtp: RtpPacket;
    try {
      rtp = RtpPacket.deSerialize(packet);
    } catch {
      return; // not RTP: nothing to send
    }
    this.#track.writeRtp(rtp); // werift's sender rewrites the header in place, synchronously
    if (rtp.header.marker) {
      this.#framesSent++;
      this.#timestamps.push(rtp.header.timestamp);
    }
  }

  get framesSent(): number {
    return this.#framesSent;
  }

  /** The RTP timestamp of every frame sent, in order. */
  get rtpTimestamps(): readonly number[] {
    return this.#timestamps;
  }

  get dataChannelDetections(): number {
    return this.#channelDetections;
  }

  /** Safe to call twice; never takes more than a few seconds (werift's close waits on its transports). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#track.stop();
      await deadline(this.#pc.close(), CLOSE_TIMEOUT_MS, () => new StreamError('TIMEOUT', 'peer connection close timed out')).catch(() => undefined);
    })();
    return this.#closing;
  }
}
