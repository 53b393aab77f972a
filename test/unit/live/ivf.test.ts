import { describe, expect, it } from 'vitest';
import { IVF_TIMEBASE_HZ, ivfFileHeader, ivfFrameHeader, RtpClock } from '../../../src/live/ivf.js';

describe('ivfFileHeader', () => {
  it('writes the 32-byte DKIF header with the VP8 fourcc, size and a 1/90000 time base', () => {
    const b = ivfFileHeader('vp8', 640, 480);
    expect(b.length).toBe(32);
    expect(b.toString('latin1', 0, 4)).toBe('DKIF');
    expect(b.readUInt16LE(4)).toBe(0); // version
    expect(b.readUInt16LE(6)).toBe(32); // header length
    expect(b.toString('latin1', 8, 12)).toBe('VP80');
    expect(b.readUInt16LE(12)).toBe(640);
    expect(b.readUInt16LE(14)).toBe(480);
    expect(b.readUInt32LE(16)).toBe(90_000); // time base denominator (rate)
    expect(b.readUInt32LE(20)).toBe(1); // numerator (scale)
    expect(b.readUInt32LE(24)).toBe(0); // frame count unknown
    expect(b.readUInt32LE(28)).toBe(0); // unused
    expect(IVF_TIMEBASE_HZ).toBe(90_000);
  });

  it('uses H264 as the fourcc for h264 and 0x0 when the size is unknown', () => {
    const b = ivfFileHeader('h264');
    expect(b.toString('latin1', 8, 12)).toBe('H264');
    expect(b.readUInt16LE(12)).toBe(0);
    expect(b.readUInt16LE(14)).toBe(0);
    expect([...b.subarray(0, 8)]).toEqual([0x44, 0x4b, 0x49, 0x46, 0, 0, 32, 0]);
  });
});

describe('ivfFrameHeader', () => {
  it('is 12 bytes: uint32 LE size then uint64 LE pts', () => {
    const b = ivfFrameHeader(0x01020304, 0x0000000a_0b0c0d0e);
    expect(b.length).toBe(12);
    expect([...b]).toEqual([0x04, 0x03, 0x02, 0x01, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0, 0, 0]);
    expect(b.readUInt32LE(0)).toBe(0x01020304);
    expect(b.readBigUInt64LE(4)).toBe(0x0a0b0c0d0en);
  });

  it('carries pts beyond 32 bits exactly (a long session after RTP wraps)', () => {
    const pts = 5 * 0x100000000 + 123;
    expect(Number(ivfFrameHeader(10, pts).readBigUInt64LE(4))).toBe(pts);
    expect(ivfFrameHeader(0, 0).equals(Buffer.alloc(12))).toBe(true);
  });
});

describe('RtpClock', () => {
  it('counts units since the first timestamp', () => {
    const c = new RtpClock();
    expect(c.unwrap(1_000_000)).toBe(0);
    expect(c.unwrap(1_003_000)).toBe(3000);
    expect(c.unwrap(1_006_000)).toBe(6000);
  });

  it('unwraps across the 32-bit wrap: 0xFFFFF000 → 0x00000800 is +0x1800', () => {
    const c = new RtpClock();
    expect(c.unwrap(0xfffff000)).toBe(0);
    expect(c.unwrap(0x00000800)).toBe(0x1800);
    expect(c.unwrap(0x00001000)).toBe(0x2000);
  });

  it('keeps counting over several wraps', () => {
    const c = new RtpClock();
    const step = 0x40000000; // a quarter of the range per step: 8 steps = two wraps
    let ts = 0x12345678;
    expect(c.unwrap(ts)).toBe(0);
    for (let i = 1; i <= 8; i++) {
      ts = (ts + step) >>> 0;
      expect(c.unwrap(ts)).toBe(i * step);
    }
  });

  it('does not take small reordering for a wrap', () => {
    const c = new RtpClock();
    expect(c.unwrap(90_000)).toBe(0);
    expect(c.unwrap(96_000)).toBe(6000);
    expect(c.unwrap(93_000)).toBe(3000); // a late frame: earlier, not 2^32 later
    expect(c.unwrap(99_000)).toBe(9000);
  });

  it('handles a late frame from before the wrap arriving after it', () => {
    const c = new RtpClock();
    expect(c.unwrap(0xfffff000)).toBe(0);
    expect(c.unwrap(0x00000800)).toBe(0x1800); // wrapped
    expect(c.unwrap(0xfffff800)).toBe(0x800); // from before the wrap: not a second wrap, not 2^32 back
    expect(c.unwrap(0x00001000)).toBe(0x2000);
  });

  it('takes a backward jump of more than half the range for a wrap, and less for reordering', () => {
    const c = new RtpClock();
    expect(c.unwrap(0x10000000)).toBe(0);
    expect(c.unwrap(0xa0000000)).toBe(0x90000000); // forward by more than half, but no wrap to undo
    expect(c.unwrap(0x1fffffff)).toBe(0x10fffffff); // back by 0x80000001: a wrap
    const d = new RtpClock();
    expect(d.unwrap(0x10000000)).toBe(0);
    expect(d.unwrap(0x90000000)).toBe(0x80000000);
    expect(d.unwrap(0x10000001)).toBe(1); // back by 0x7fffffff: reordering, not a wrap
  });

  it('never goes negative for a frame older than the first', () => {
    const c = new RtpClock();
    expect(c.unwrap(5000)).toBe(0);
    expect(c.unwrap(2000)).toBe(0);
  });
});
