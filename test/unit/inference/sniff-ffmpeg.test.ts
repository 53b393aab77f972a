import { describe, expect, it } from 'vitest';
import { parseFfmpegVersion } from '../../../src/media/ffmpeg.js';
import { sniffImage } from '../../../src/media/sniff.js';

describe('sniffImage', () => {
  it('recognises JPEG, PNG and WebP by magic bytes only', () => {
    expect(sniffImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffImage(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe('png');
    expect(sniffImage(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffImage(new TextEncoder().encode('RIFF\0\0\0\0AVI LIST'))).toBeUndefined();
    expect(sniffImage(new TextEncoder().encode('GIF89a'))).toBeUndefined();
    expect(sniffImage(new Uint8Array(0))).toBeUndefined();
  });
});

describe('parseFfmpegVersion', () => {
  it('reads the version word of `ffmpeg -version`', () => {
    expect(parseFfmpegVersion('ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers\nbuilt with gcc')).toBe('5.1.6-0+deb12u1');
    expect(parseFfmpegVersion('ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/')).toBe('N-47683-g0e8eb07980-static');
    expect(parseFfmpegVersion('command not found')).toBeUndefined();
  });
});
