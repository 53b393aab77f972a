/**
 * RTP packets in, whole encoded frames out: werift's jitter buffer (reorders, waits a little for a late
 * or retransmitted packet) feeding its depacketizer (VP8 frames, H.264 access units in Annex B). Frames
 * before the first keyframe, or with a packet missing, are not emitted; `onNeedKeyframe` fires so the
 * session can send a PLI.
 */
import { DepacketizeBase, JitterBufferBase } from 'werift/nonstandard';
import type { RtpPacket } from 'werift';

export type LiveCodec = 'vp8' | 'h264';

export interface EncodedFrame {
  readonly data: Buffer;
  readonly keyframe: boolean;
  readonly rtpTimestamp: number;
  /** performance.now() when the frame's last packet arrived. */
  readonly arrivedAt: number;
}

/** How long a gap in sequence numbers may wait for the missing packet (a NACK round trip). */
const JITTER_LATENCY_MS = 80;

export class FrameAssembler {
  readonly codec: LiveCodec;
  readonly #jitter: JitterBufferBase;
  readonly #depacketizer: DepacketizeBase;
  readonly #onNeedKeyframe: () => void;
  #lostPackets = 0;

  constructor(codec: LiveCodec, onNeedKeyframe: () => void) {
    this.codec = codec;
    this.#jitter = new JitterBufferBase(90_000, { latency: JITTER_LATENCY_MS });
    this.#depacketizer = new DepacketizeBase(codec === 'vp8' ? 'VP8' : 'MPEG4/ISO/AVC', {
      isFinalPacketInSequence: (h) => h.marker,
      waitForKeyframe: true,
    });
    this.#depacketizer.onNeedKeyFrame.subscribe(() => onNeedKeyframe());
    this.#onNeedKeyframe = onNeedKeyframe;
  }

  /** Packets the jitter buffer gave up waiting for. */
  get lostPackets(): number {
    return this.#lostPackets;
  }

  push(rtp: RtpPacket, now: number): EncodedFrame[] {
    const frames: EncodedFrame[] = [];
    for (const out of this.#jitter.processInput({ rtp })) {
      if (out.isPacketLost) {
        this.#lostPackets += ((out.isPacketLost.to - out.isPacketLost.from + 0x10000) % 0x10000) + 1;
        this.#onNeedKeyframe(); // the frame with the hole is gone, and what follows references it
      }
      if (!out.rtp) continue;
      for (const d of this.#depacketizer.processInput({ rtp: out.rtp, time: now })) {
        const f = d.frame;
        if (!f || f.data.length === 0) continue;
        frames.push({ data: f.data, keyframe: f.isKeyframe, rtpTimestamp: (f['timestamp'] as number | undefined) ?? out.rtp.header.timestamp, arrivedAt: now });
      }
    }
    return frames;
  }
}
