/**
 * IVF, the simplest container ffmpeg reads from a pipe: a 32-byte file header, then per frame a 12-byte
 * header (size, 64-bit pts) and the frame. It carries our timestamps into ffmpeg, so decoded frames can be
 * matched to the RTP frames they came from and the recording keeps real timing. ffmpeg's IVF demuxer
 * accepts the fourccs VP80 and H264 (one Annex B access unit per frame).
 */

export type IvfCodec = 'vp8' | 'h264';

/** Timestamps are in RTP video clock units. */
export const IVF_TIMEBASE_HZ = 90_000;

export function ivfFileHeader(codec: IvfCodec, width = 0, height = 0): Buffer {
  const b = Buffer.alloc(32);
  b.write('DKIF', 0, 'latin1');
  b.writeUInt16LE(0, 4); // version
  b.writeUInt16LE(32, 6); // header size
  b.write(codec === 'vp8' ? 'VP80' : 'H264', 8, 'latin1');
  b.writeUInt16LE(width, 12);
  b.writeUInt16LE(height, 14);
  b.writeUInt32LE(IVF_TIMEBASE_HZ, 16); // time base denominator
  b.writeUInt32LE(1, 20); // numerator
  b.writeUInt32LE(0, 24); // frame count: unknown for a live stream
  return b;
}

export function ivfFrameHeader(size: number, pts: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(size, 0);
  b.writeBigUInt64LE(BigInt(pts), 4);
  return b;
}

/** Unwraps 32-bit RTP timestamps into a monotonic count of clock units since the first frame. */
export class RtpClock {
  #first: number | undefined;
  #last = 0;
  #wraps = 0;

  /** `rtpTimestamp` is a uint32; returns units since the first frame (never negative). */
  unwrap(rtpTimestamp: number): number {
    if (this.#first === undefined) {
      this.#first = rtpTimestamp;
      this.#last = rtpTimestamp;
      return 0;
    }
    // A jump backwards by more than half the range is a wrap, not reordering.
    if (rtpTimestamp < this.#last && this.#last - rtpTimestamp > 0x80000000) this.#wraps++;
    else if (rtpTimestamp > this.#last && rtpTimestamp - this.#last > 0x80000000 && this.#wraps > 0) this.#wraps--;
    this.#last = rtpTimestamp;
    return Math.max(0, this.#wraps * 0x100000000 + rtpTimestamp - this.#first);
  }
}
