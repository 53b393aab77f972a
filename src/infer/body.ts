/**
 * The images of a one-call inference request: the raw body (`image/jpeg`, `image/png`, `image/webp`), or a
 * multipart body with one or more `image` file fields (and small text fields, which the Deepstack endpoint
 * reads). Held in memory, within `maxBytes` in all and `maxImages` files: these are single photos.
 */
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { AppError } from '../errors.js';
import { cleanName } from '../media/file-name.js';
import type { InferImage } from './service.js';

const RAW_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'application/octet-stream']);

export interface InferBody {
  images: InferImage[];
  /** Text fields of a multipart body (at most 20, each at most 1 KiB). */
  fields: Record<string, string>;
}

const tooLarge = (maxBytes: number): AppError => new AppError('PAYLOAD_TOO_LARGE', `The request is larger than ${maxBytes} bytes.`);

export async function readInferBody(stream: Readable, headers: Record<string, string>, limits: { maxBytes: number; maxImages: number }): Promise<InferBody> {
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (Number(headers['content-length'] ?? 0) > limits.maxBytes + 64 * 1024) throw tooLarge(limits.maxBytes);
  if (RAW_TYPES.has(type)) return { images: [{ bytes: await readAll(stream, limits.maxBytes) }], fields: {} };
  if (type === 'multipart/form-data') return readMultipart(stream, headers, limits);
  throw new AppError('UNSUPPORTED_MEDIA', 'Send an image (Content-Type image/jpeg, image/png or image/webp) or multipart/form-data with "image" fields.');
}

async function readAll(stream: Readable, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(b);
  }
  if (size === 0) throw new AppError('VALIDATION_FAILED', 'The body is empty: send an image.');
  return new Uint8Array(Buffer.concat(chunks, size));
}

function readMultipart(stream: Readable, headers: Record<string, string>, limits: { maxBytes: number; maxImages: number }): Promise<InferBody> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers, defParamCharset: 'utf8', limits: { files: limits.maxImages, fileSize: limits.maxBytes, fields: 20, fieldSize: 1024, parts: limits.maxImages + 20 } });
  } catch {
    throw new AppError('UNSUPPORTED_MEDIA', 'Send multipart/form-data with a boundary and "image" fields.');
  }
  return new Promise((resolve, reject) => {
    const images: InferImage[] = [];
    const fields: Record<string, string> = {};
    let total = 0;
    let settled = false;
    let pending = 0;
    let closed = false;
    const fail = (e: AppError): void => {
      if (settled) return;
      settled = true;
      stream.unpipe(bb);
      stream.resume();
      reject(e);
    };
    const maybeDone = (): void => {
      if (settled || !closed || pending > 0) return;
      if (images.length === 0) return fail(new AppError('VALIDATION_FAILED', 'No image: send it in a multipart field named "image".'));
      settled = true;
      resolve({ images, fields });
    };
    bb.on('file', (field, file, info) => {
      if (field !== 'image') {
        file.resume();
        return fail(new AppError('VALIDATION_FAILED', `Unexpected file field "${field}": send images in fields named "image".`));
      }
      pending++;
      const chunks: Buffer[] = [];
      file.on('data', (d: Buffer) => {
        total += d.length;
        if (total > limits.maxBytes) return fail(tooLarge(limits.maxBytes));
        chunks.push(d);
      });
      file.on('limit', () => fail(tooLarge(limits.maxBytes)));
      file.on('end', () => {
        pending--;
        const name = info.filename ? cleanName(info.filename, '') : '';
        images.push({ ...(name ? { name } : {}), bytes: new Uint8Array(Buffer.concat(chunks)) });
        maybeDone();
      });
    });
    bb.on('field', (name, value) => {
      if (!value.includes('\u0000')) fields[name] = value;
    });
    bb.on('filesLimit', () => fail(new AppError('VALIDATION_FAILED', `At most ${limits.maxImages} images in one request.`)));
    bb.on('partsLimit', () => fail(new AppError('VALIDATION_FAILED', 'Too many parts in the multipart body.')));
    bb.on('fieldsLimit', () => fail(new AppError('VALIDATION_FAILED', 'Too many fields in the multipart body.')));
    bb.on('error', (e) => fail(new AppError('VALIDATION_FAILED', `The multipart body is malformed: ${e instanceof Error ? e.message : String(e)}.`)));
    bb.on('close', () => {
      closed = true;
      maybeDone();
    });
    stream.on('error', (e) => fail(e instanceof AppError ? e : new AppError('VALIDATION_FAILED', 'The request body was cut off.')));
    stream.pipe(bb);
  });
}
