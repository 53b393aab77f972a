/**
 * Receives one upload into a dataset: a multipart body whose field `file` holds an image, a video or a zip
 * of those. The body is streamed to a temporary file (never held in memory) with a byte cap that answers 413
 * the moment it is crossed. The type is sniffed from the content, never the name. Images are measured from
 * their header (pixel cap before decoding) and then decoded once to prove they are whole; videos are probed
 * with ffprobe for an exact frame count; zips are unpacked safely (see zip.ts) and each entry is checked the
 * same way.
 *
 * Nothing is half-kept: every file is first written under a temporary name, and only when all of them have
 * passed are they renamed into place and their rows inserted in one transaction. Any failure removes every
 * file this upload wrote.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import busboy from 'busboy';
import sharp, { type Metadata } from 'sharp';
import type { Config } from '../config.js';
import type { Insertable } from 'kysely';
import type { DatasetFilesTable, Db, MediaKind } from '../db/schema.js';
import { AppError } from '../errors.js';
import { cleanName } from '../media/file-name.js';
import { sniffMedia, type Sniffed } from '../media/sniff.js';
import { probeVideo } from '../media/video.js';
import { extractZip } from './zip.js';

const EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', mp4: 'mp4', mov: 'mov', webm: 'webm', mkv: 'mkv', avi: 'avi' };
const HEAD_BYTES = 512;
const ACCEPTED = 'a JPEG, PNG or WebP image, an MP4, MOV, WebM, Matroska or AVI video, or a zip of those';

export interface UploadContext {
  readonly db: Db;
  readonly config: Config;
  readonly ffprobePath: () => Promise<string>;
}

/** A file that passed every check, still under its temporary name. */
interface Checked {
  id: string;
  name: string;
  kind: MediaKind;
  format: string;
  tmpPath: string;
  bytes: number;
  width: number;
  height: number;
  frames: number;
  fps: number | null;
  costMilli: number;
}


async function readHead(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export const datasetDir = (dataDir: string, datasetId: string): string => path.join(dataDir, 'datasets', datasetId);

/** Streams the multipart field `file` into `tmpPath`; resolves with the original file name, size and first bytes. */
async function receiveFile(body: Readable, headers: Record<string, string>, tmpPath: string, maxBytes: number): Promise<{ filename: string | undefined; bytes: number; head: Buffer }> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers, defParamCharset: 'utf8', limits: { files: 1, fileSize: maxBytes, fields: 10, fieldSize: 1024, parts: 12 } });
  } catch {
    throw new AppError('UNSUPPORTED_MEDIA', 'Send the upload as multipart/form-data with a boundary, the file in the field "file".');
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    let got: Promise<{ filename: string | undefined; bytes: number; head: Buffer }> | undefined;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      body.unpipe(bb);
      body.resume(); // feed nothing more to busboy; the connection is closed after the answer
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    bb.on('file', (field, stream, info) => {
      if (field !== 'file') {
        stream.resume();
        fail(new AppError('VALIDATION_FAILED', `Unexpected file field "${field}": send the file in the field "file".`));
        return;
      }
      let bytes = 0;
      const chunks: Buffer[] = [];
      let headLen = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          if (headLen < HEAD_BYTES) {
            chunks.push(chunk.subarray(0, HEAD_BYTES - headLen));
            headLen += Math.min(chunk.length, HEAD_BYTES - headLen);
          }
          cb(null, chunk);
        },
      });
      stream.on('limit', () => {
        const e = new AppError('PAYLOAD_TOO_LARGE', `The upload is larger than the limit of ${maxBytes} bytes.`);
        stream.destroy(e);
        fail(e);
      });
      got = pipeline(stream, counter, createWriteStream(tmpPath, { flags: 'wx' })).then(() => ({
        filename: info.filename,
        bytes,
        head: Buffer.concat(chunks),
      }));
      got.catch(fail);
    });
    bb.on('error', (e) => fail(new AppError('VALIDATION_FAILED', `The multipart body is malformed: ${e instanceof Error ? e.message : String(e)}.`)));
    bb.on('filesLimit', () => fail(new AppError('VALIDATION_FAILED', 'Send one file per upload (a zip holds many).')));
    bb.on('partsLimit', () => fail(new AppError('VALIDATION_FAILED', 'Too many parts in the multipart body.')));
    bb.on('close', () => {
      if (settled) return;
      if (!got) {
        fail(new AppError('VALIDATION_FAILED', 'No file: send it in the multipart field "file".'));
        return;
      }
      got.then((r) => {
        if (settled) return;
        settled = true;
        resolve(r);
      }, fail);
    });
    body.on('error', fail);
    body.pipe(bb);
  });
}

async function checkImage(file: string, format: string, maxPixels: number): Promise<{ width: number; height: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(file, { limitInputPixels: false }).metadata();
  } catch {
    throw new AppError('UNSUPPORTED_MEDIA', `The ${format.toUpperCase()} image cannot be read.`);
  }
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  if (w <= 0 || h <= 0) throw new AppError('UNSUPPORTED_MEDIA', `The ${format.toUpperCase()} image has no size.`);
  if (w * h > maxPixels) throw new AppError('PAYLOAD_TOO_LARGE', `The image is ${w}×${h} = ${w * h} pixels; the limit is ${maxPixels}.`);
  try {
    await sharp(file, { failOn: 'truncated', limitInputPixels: maxPixels }).stats();
  } catch {
    throw new AppError('UNSUPPORTED_MEDIA', `The ${format.toUpperCase()} image is truncated or damaged.`);
  }
  // Detection sees the image upright (EXIF orientation applied): report that size.
  return (meta.orientation ?? 1) >= 5 ? { width: h, height: w } : { width: w, height: h };
}

/** Checks one file that is already on disk under a temporary name. */
async function checkMedia(ctx: UploadContext, tmpPath: string, name: string, sniffed: Sniffed, bytes: number): Promise<Checked> {
  const { config } = ctx;
  const id = randomUUID();
  if (sniffed.kind === 'image') {
    const { width, height } = await checkImage(tmpPath, sniffed.format, config.uploads.imageMaxPixels);
    return { id, name, kind: 'image', format: sniffed.format, tmpPath, bytes, width, height, frames: 1, fps: null, costMilli: config.tokens.priceImageMilli };
  }
  if (sniffed.kind === 'video') {
    const info = await probeVideo(
      tmpPath,
      sniffed.format,
      { timeoutMs: config.uploads.mediaTimeoutMs, maxFrames: config.uploads.videoMaxFrames, maxPixels: config.uploads.videoMaxPixels },
      { ffprobePath: await ctx.ffprobePath() },
    );
    if (info.frames < 1) throw new AppError('UNSUPPORTED_MEDIA', `The video "${name}" has no frames.`);
    return {
      id, name, kind: 'video', format: sniffed.format, tmpPath, bytes,
      width: info.width, height: info.height, frames: info.frames, fps: info.fps || null,
      costMilli: info.frames * config.tokens.priceVideoFrameMilli,
    };
  }
  throw new AppError('VALIDATION_FAILED', `"${name}" is itself an archive; nested archives are not accepted.`);
}

/**
 * Receives, checks and stores an upload into `datasetId` (already known to belong to the caller). Returns the
 * ids of the stored files, in order.
 */
export async function storeUpload(ctx: UploadContext, userId: string, datasetId: string, body: Readable, headers: Record<string, string>): Promise<string[]> {
  const { config, db } = ctx;
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'multipart/form-data') {
    throw new AppError('UNSUPPORTED_MEDIA', `Send the upload as multipart/form-data with the file in the field "file" (got ${type || 'no content type'}).`);
  }
  const declared = Number(headers['content-length'] ?? '0');
  // The limit is on the file; allow a little for the multipart envelope around it.
  if (declared > config.uploads.maxBytes + 64 * 1024) {
    throw new AppError('PAYLOAD_TOO_LARGE', `The upload is larger than the limit of ${config.uploads.maxBytes} bytes.`);
  }
  const dir = datasetDir(config.dataDir, datasetId);
  await mkdir(dir, { recursive: true });
  const written = new Set<string>(); // every path this upload created, removed on failure
  const uploadTmp = path.join(dir, `.upload-${randomUUID()}.part`);
  written.add(uploadTmp);
  try {
    const got = await receiveFile(body, headers, uploadTmp, config.uploads.maxBytes);
    const sniffed = sniffMedia(got.head);
    if (!sniffed) throw new AppError('UNSUPPORTED_MEDIA', `The file is not ${ACCEPTED}.`);
    const checked: Checked[] = [];
    if (sniffed.kind === 'zip') {
      // Each entry is checked (type, header, pixel count, decode) as soon as it is written: the first bad one
      // stops the unpacking, rather than after everything has been written to disk.
      const entries = await extractZip(
        uploadTmp,
        dir,
        { maxEntries: config.uploads.zipMaxEntries, maxTotalBytes: config.uploads.zipMaxBytes, maxEntryBytes: config.uploads.maxBytes, maxRatio: config.uploads.zipMaxRatio },
        (entryName, head) => (sniffMedia(head) ? undefined : `"${entryName}" in the zip is not ${ACCEPTED}.`),
        undefined,
        async (e) => {
          written.add(e.path);
          const s = sniffMedia(await readHead(e.path));
          if (!s) throw new AppError('UNSUPPORTED_MEDIA', `"${e.name}" in the zip is not ${ACCEPTED}.`);
          checked.push(await checkMedia(ctx, e.path, cleanName(e.name, 'file'), s, e.bytes));
        },
      );
      for (const e of entries) written.add(e.path);
      await rm(uploadTmp, { force: true });
      if (entries.length === 0) throw new AppError('VALIDATION_FAILED', 'The zip holds no images or videos.');
    } else {
      checked.push(await checkMedia(ctx, uploadTmp, cleanName(got.filename, `upload.${EXT[sniffed.format] ?? 'bin'}`), sniffed, got.bytes));
    }

    // Everything passed: move into place, then record all of it at once.
    const rows: Insertable<DatasetFilesTable>[] = [];
    for (const c of checked) {
      const key = path.posix.join('datasets', datasetId, `${c.id}.${EXT[c.format] ?? 'bin'}`);
      const finalPath = path.join(config.dataDir, key);
      await rename(c.tmpPath, finalPath);
      written.delete(c.tmpPath);
      written.add(finalPath);
      rows.push({
        id: c.id, dataset_id: datasetId, user_id: userId, name: c.name, kind: c.kind, format: c.format, storage_key: key,
        bytes: c.bytes, width: c.width, height: c.height, frames: c.frames, fps: c.fps, token_cost_milli: c.costMilli,
      });
    }
    await db.transaction().execute(async (tx) => {
      // The dataset may have been deleted while the body was arriving.
      const ds = await tx.selectFrom('datasets').select('id').where('id', '=', datasetId).where('user_id', '=', userId).forUpdate().executeTakeFirst();
      if (!ds) throw new AppError('NOT_FOUND', 'Dataset not found.');
      await tx.insertInto('dataset_files').values(rows).execute();
    });
    written.clear();
    return rows.map((r) => r.id);
  } finally {
    await Promise.all([...written].map((p) => rm(p, { force: true })));
  }
}
