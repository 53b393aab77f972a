import { describe, expect, it } from 'vitest';
import { sniffImage, sniffMedia } from '../../../src/media/sniff.js';

/** The first 64 bytes of real files (written by ffmpeg 5.1 and Python's zipfile). */
const HEADS = {
  mp4: '000000206674797069736f6d0000020069736f6d69736f32617663316d703431000009f16d6f6f760000006c6d766864000000000000000000000000000003e8',
  fragmentedMp4: '000000246674797069736f6d0000020069736f6d69736f3669736f32617663316d703431000002ee6d6f6f760000006c6d766864000000000000000000000000',
  m4v: '00000020667479704d345620000002004d34562069736f6d69736f32617663310000000866726565000006fb6d646174000002ae0605ffffaadc45e9bde6d948',
  threeGp: '000000206674797033677036000001003367703669736f6d69736f32617663310000000866726565000006fb6d646174000002ae0605ffffaadc45e9bde6d948',
  mov: '000000146674797071742020000002007174202000000008776964650002dcc06d646174000002ad0605ffffa9dc45e9bde6d948b7962cd820d923eeef783236',
  webm: '1a45dfa39f4286810142f7810142f2810442f381084282847765626d428781024285810218538067010000000004da10114d9b74bb4dbb8b53ab841549a96653',
  mkv: '1a45dfa3a34286810142f7810142f2810442f381084282886d6174726f736b61428781044285810218538067010000000002e300114d9b74c1bf8478ec16104d',
  avi: '5249464648b91600415649204c495354381200006864726c617669683800000035820000a8610000000000001009000096000000000000000100000000001000',
  zip: '504b0304140000000000779f755d8316dc8c010000000100000005000000612e6a706778504b01021403140000000000779f755d8316dc8c0100000001000000',
  emptyZip: '504b0506000000000000000000000000000000000000',
};
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('sniffMedia', () => {
  it('tells MP4 from MOV by the ftyp major brand', () => {
    expect(sniffMedia(hex(HEADS.mp4))).toEqual({ kind: 'video', format: 'mp4' });
    expect(sniffMedia(hex(HEADS.fragmentedMp4))).toEqual({ kind: 'video', format: 'mp4' });
    expect(sniffMedia(hex(HEADS.m4v))).toEqual({ kind: 'video', format: 'mp4' });
    expect(sniffMedia(hex(HEADS.threeGp))).toEqual({ kind: 'video', format: 'mp4' });
    expect(sniffMedia(hex(HEADS.mov))).toEqual({ kind: 'video', format: 'mov' });
    expect(sniffMedia(text('\0\0\0\x18ftypzzzz\0\0\0\0zzzz'))).toEqual({ kind: 'video', format: 'mp4' }); // unknown brand
  });

  it('refuses ISO-BMFF still images and audio', () => {
    for (const brand of ['heic', 'avif', 'mif1', 'M4A ']) expect(sniffMedia(text(`\0\0\0\x18ftyp${brand}\0\0\0\0mif1`))).toBeUndefined();
  });

  it('tells WebM from Matroska by the EBML DocType', () => {
    expect(sniffMedia(hex(HEADS.webm))).toEqual({ kind: 'video', format: 'webm' });
    expect(sniffMedia(hex(HEADS.mkv))).toEqual({ kind: 'video', format: 'mkv' });
    expect(sniffMedia(hex(HEADS.mkv).subarray(0, 20))).toBeUndefined(); // the DocType is cut off
    // An EBML header with some other DocType.
    expect(sniffMedia(hex('1a45dfa38a4282876d79666f726d6174'))).toBeUndefined();
  });

  it('recognises AVI and zip archives (empty ones too)', () => {
    expect(sniffMedia(hex(HEADS.avi))).toEqual({ kind: 'video', format: 'avi' });
    expect(sniffMedia(hex(HEADS.zip))).toEqual({ kind: 'zip' });
    expect(sniffMedia(hex(HEADS.emptyZip))).toEqual({ kind: 'zip' });
  });

  it('passes images through and refuses everything else', () => {
    expect(sniffMedia(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]))).toEqual({ kind: 'image', format: 'jpeg' });
    expect(sniffMedia(text('RIFF\0\0\0\0WEBPVP8 '))).toEqual({ kind: 'image', format: 'webp' });
    expect(sniffImage(hex(HEADS.avi))).toBeUndefined();
    for (const other of ['<!DOCTYPE html><html>', 'hello, world', 'GIF89a\x01\0\x01\0', '%PDF-1.7', 'RIFF\0\0\0\0WAVEfmt ', 'PK', 'ftyp']) {
      expect(sniffMedia(text(other))).toBeUndefined();
    }
    expect(sniffMedia(new Uint8Array(0))).toBeUndefined();
  });
});
