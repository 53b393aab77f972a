/**
 * Draws labelled boxes over an image (overlay.ts) and encodes it as PNG,
 * JPEG or WebP. Input: encoded image bytes (oriented as the detector saw them) or an RGB24 frame.
 */
import sharp from 'sharp';
import { decodeImage } from './image.js';
import { drawOverlay } from './overlay.js';
import type { Detection, RgbFrame } from '../inference/types.js';

export type AnnotateFormat = 'png' | 'jpeg' | 'webp';

export async function annotate(source: Uint8Array | RgbFrame, objects: readonly Detection[], format: AnnotateFormat = 'png'): Promise<Buffer> {
  const frame = source instanceof Uint8Array ? await decodeImage(source) : source;
  const { width, height } = frame;
  const out = sharp(await drawOverlay(frame, objects), { raw: { width, height, channels: 3 } });
  return format === 'jpeg' ? out.jpeg({ quality: 90 }).toBuffer() : format === 'webp' ? out.webp().toBuffer() : out.png().toBuffer();
}
