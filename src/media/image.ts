/**
 * Encoded image (JPEG, PNG, WebP) -> packed RGB24 frame, with sharp. The type is sniffed from the
 * magic bytes first; anything else, and any decode failure (truncated or corrupt data), becomes
 * AppError('UNSUPPORTED_MEDIA'). EXIF orientation is applied, alpha is dropped, grey becomes RGB.
 */
import sharp from 'sharp';
import { AppError } from '../errors.js';
import { sniffImage, type ImageType } from './sniff.js';

export interface DecodedImage {
  type: ImageType;
  data: Uint8Array;
  width: number;
  height: number;
}

/** Refuse decompression bombs: at most this many pixels (about 8K x 8K). */
export const MAX_IMAGE_PIXELS = 7680 * 7680;

export async function decodeImage(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): Promise<DecodedImage> {
  const type = sniffImage(bytes);
  if (!type) throw new AppError('UNSUPPORTED_MEDIA', 'Not a JPEG, PNG or WebP image.');
  try {
    const { data, info } = await sharp(bytes, { failOn: 'truncated', limitInputPixels: maxPixels })
      .rotate()
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected channel count ${info.channels}`);
    return { type, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (e) {
    const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new AppError('UNSUPPORTED_MEDIA', `The ${type.toUpperCase()} image could not be decoded (${detail}).`, {}, { cause: e });
  }
}
