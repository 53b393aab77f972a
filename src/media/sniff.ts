/**
 * Media type from magic bytes (never from a file name): images (JPEG, PNG, WebP), videos (MP4, MOV, WebM,
 * MKV, AVI) and zip archives. The video type picks the demuxer that ffmpeg is forced to use, so that a file
 * can never choose its own (playlist, concat, image2, …) by what it contains.
 */
export type ImageType = 'jpeg' | 'png' | 'webp';
export type VideoType = 'mp4' | 'mov' | 'webm' | 'mkv' | 'avi';
export type Sniffed = { kind: 'image'; format: ImageType } | { kind: 'video'; format: VideoType } | { kind: 'zip' };

export function sniffImage(b: Uint8Array): ImageType | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return 'webp';
  return undefined;
}

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/** ISO-BMFF brands that are still images (HEIF, AVIF) or audio, not video. */
const NOT_VIDEO_BRANDS = new Set(['avif', 'avis', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1', 'M4A ', 'M4B ', 'M4P ', 'F4A ']);

/** An EBML variable-size integer at `at`: its value (length marker removed) and byte length. */
function vint(b: Uint8Array, at: number): { value: number; len: number } | undefined {
  const first = b[at];
  if (first === undefined || first === 0) return undefined;
  const len = Math.clz32(first) - 23;
  if (len > 8 || at + len > b.length) return undefined;
  let value = first & (0xff >> len);
  for (let i = 1; i < len; i++) value = value * 256 + b[at + i]!;
  return { value, len };
}

/** The DocType of an EBML header (Matroska's default "matroska" when absent), if the header fits in `b`. */
function ebmlDocType(b: Uint8Array): string | undefined {
  const size = vint(b, 4);
  if (!size) return undefined;
  const end = 4 + size.len + size.value;
  let at = 4 + size.len;
  while (at < end) {
    const id = vint(b, at); // element IDs are vints too (read here for their length only)
    const len = id && vint(b, at + id.len);
    if (!id || !len) return undefined;
    const data = at + id.len + len.len;
    if (data + len.value > b.length) return undefined;
    if (id.len === 2 && b[at] === 0x42 && b[at + 1] === 0x82) return ascii(b, data, data + len.value).replace(/\0+$/, '');
    at = data + len.value;
  }
  return end <= b.length ? 'matroska' : undefined;
}

/** What `head` (the first 64 bytes of a file, or all of a shorter one) is, or undefined if not accepted. */
export function sniffMedia(head: Uint8Array): Sniffed | undefined {
  const image = sniffImage(head);
  if (image) return { kind: 'image', format: image };
  if (head.length >= 12 && ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12);
    if (brand === 'qt  ') return { kind: 'video', format: 'mov' };
    return NOT_VIDEO_BRANDS.has(brand) ? undefined : { kind: 'video', format: 'mp4' };
  }
  if (head.length >= 12 && ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') return { kind: 'video', format: 'avi' };
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    const docType = ebmlDocType(head);
    return docType === 'webm' ? { kind: 'video', format: 'webm' } : docType === 'matroska' ? { kind: 'video', format: 'mkv' } : undefined;
  }
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) return { kind: 'zip' };
  return undefined;
}
