/**
 * Draws labelled boxes over an image (sharp composite of an SVG overlay) and encodes it as PNG,
 * JPEG or WebP. Input: encoded image bytes (oriented as the detector saw them) or an RGB24 frame.
 */
import sharp from 'sharp';
import { decodeImage } from './image.js';
import type { Detection, RgbFrame } from '../inference/types.js';

const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#008080', '#e6beff'];

const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** What is written on a box: `#track label score%`, then the classifier's label and score when there is one. */
export function boxLabel(o: Detection): string {
  const track = o.trackId !== undefined ? `#${o.trackId} ` : '';
  const cls = o.classification ? ` · ${o.classification.label} ${Math.round(o.classification.score * 100)}%` : '';
  return `${track}${o.label} ${Math.round(o.score * 100)}%${cls}`;
}

/** The SVG overlay for a `width` x `height` image. */
export function overlaySvg(width: number, height: number, objects: readonly Detection[]): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 250));
  const font = Math.max(12, Math.round(Math.min(width, height) / 40));
  const parts = objects.map((o) => {
    const [x1, y1, x2, y2] = o.box;
    const colour = COLOURS[o.classId % COLOURS.length] ?? '#e6194b';
    const text = escapeXml(boxLabel(o));
    const tw = Math.round(text.length * font * 0.6) + 6;
    const ty = y1 - font - 4 >= 0 ? y1 - font - 4 : y1;
    return (
      `<rect x="${x1}" y="${y1}" width="${Math.max(0, x2 - x1)}" height="${Math.max(0, y2 - y1)}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>` +
      `<rect x="${x1}" y="${ty}" width="${tw}" height="${font + 4}" fill="${colour}"/>` +
      `<text x="${x1 + 3}" y="${ty + font}" font-family="sans-serif" font-size="${font}" fill="#ffffff">${text}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

export type AnnotateFormat = 'png' | 'jpeg' | 'webp';

export async function annotate(source: Uint8Array | RgbFrame, objects: readonly Detection[], format: AnnotateFormat = 'png'): Promise<Buffer> {
  const frame = source instanceof Uint8Array ? await decodeImage(source) : source;
  const { width, height } = frame;
  const img = sharp(frame.data, { raw: { width, height, channels: 3 } });
  const overlay = Buffer.from(overlaySvg(width, height, objects));
  const out = img.composite([{ input: overlay, top: 0, left: 0 }]);
  return format === 'jpeg' ? out.jpeg({ quality: 90 }).toBuffer() : format === 'webp' ? out.webp().toBuffer() : out.png().toBuffer();
}
