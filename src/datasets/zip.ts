/**
 * Safe extraction of a user-uploaded zip (dataset uploads). Every regular file is streamed into a temporary
 * file of its own; nothing is ever held whole in memory and no entry name is ever used as a path, so the
 * archive cannot place files anywhere. The whole archive is refused (and every temporary file this call wrote
 * is removed) when anything is off:
 *
 * - damage: not a zip, a broken central directory, a truncated file, sizes that disagree with the data
 *   (yauzl's `validateEntrySizes`), or a bad CRC-32 (yauzl never checks CRCs, so we do while streaming) → 400;
 * - unsafe names (`..`, absolute, drive letters, backslashes, control characters, empty), symbolic links and
 *   other non-regular files, encrypted entries, archives inside the archive → 400;
 * - unsupported compression methods (yauzl reads only stored and deflated entries) → 415;
 * - too many files, too many bytes (per entry, in all) or a suspicious compression ratio → 413. Bytes are
 *   counted as they come out of the decompressor, never taken from headers, and the stream stops the moment a
 *   limit is crossed;
 * - whatever the caller's `accept` hook refuses → 415.
 *
 * Directory entries and operating-system junk (`__MACOSX/`, `.DS_Store`, `._*`, `Thumbs.db`) are skipped.
 *
 * Names are decoded here rather than by yauzl (`decodeStrings: false`): with `decodeStrings: true` yauzl runs
 * its own name checks whatever `strictFileNames` says, failing with terse messages before we see the entry,
 * and without `strictFileNames` it silently turns `\` into `/`. `getFileNameLowLevel` does the same decoding
 * (UTF-8 flag, Info-ZIP Unicode path field, else CP437) without either.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { AppError } from '../errors.js';

export interface ZipLimits {
  /** File entries (directories and junk not counted); more → PAYLOAD_TOO_LARGE. */
  maxEntries: number;
  /** Bytes actually decompressed across all entries; crossing → PAYLOAD_TOO_LARGE at once. */
  maxTotalBytes: number;
  /** Bytes actually decompressed for one entry; crossing → PAYLOAD_TOO_LARGE at once. */
  maxEntryBytes: number;
  /**
   * Uncompressed / compressed size, checked once more than 1 MiB has come out: of one entry, and of the whole
   * archive (everything unpacked so far against the archive's size), so that many small entries that each
   * stay under the floor cannot add up to a bomb.
   */
  maxRatio: number;
}

export interface ExtractedEntry {
  /** The entry's path inside the archive, with forward slashes, e.g. "cats/a.jpg". */
  name: string;
  /** Absolute path of the temporary file (`.zip-<random>.part` inside tmpDir) holding its bytes. */
  path: string;
  bytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = Object.freeze({
  maxEntries: 1000,
  maxTotalBytes: 2 * 1024 ** 3,
  maxEntryBytes: 1024 ** 3,
  maxRatio: 100,
});

/** Small entries may compress extremely well (a blank image) without being a bomb. */
const RATIO_FLOOR = 1024 ** 2;
/** Bytes of each entry `accept` sees. */
const ACCEPT_HEAD = 64;
/** Bytes kept for sniffing nested archives: 262 reaches tar's `ustar` magic at offset 257. */
const SNIFF_HEAD = 262;

const ARCHIVE_MAGIC: ReadonlyArray<readonly [kind: string, offset: number, magic: Buffer]> = [
  ['a zip', 0, Buffer.from('PK\x03\x04', 'latin1')],
  ['a zip', 0, Buffer.from('PK\x05\x06', 'latin1')],
  ['a zip', 0, Buffer.from('PK\x07\x08', 'latin1')],
  ['a gzip', 0, Buffer.from([0x1f, 0x8b])],
  ['a 7z', 0, Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])],
  ['a RAR', 0, Buffer.from('Rar!\x1a\x07', 'latin1')],
  ['a bzip2', 0, Buffer.from('BZh', 'latin1')],
  ['an xz', 0, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
  ['a tar', 257, Buffer.from('ustar', 'latin1')],
];

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

type Accept = (name: string, head: Uint8Array) => string | undefined;

const quote = (name: string): string => JSON.stringify(name); // shows control characters escaped
const refuse = (name: string, why: string): AppError => new AppError('VALIDATION_FAILED', `The zip entry ${quote(name)} ${why}.`);
const damaged = (detail: string, cause?: unknown): AppError =>
  new AppError('VALIDATION_FAILED', `The zip archive is damaged: ${detail.replace(/\.$/, '')}.`, {}, cause === undefined ? undefined : { cause });

/**
 * Extracts every regular file of the zip at `zipPath` into temporary files in `tmpDir` (which exists), in
 * central-directory order (duplicate names are kept). `accept(name, head)` sees the first up-to-64 bytes of
 * each entry and returns a message to refuse the whole archive with UNSUPPORTED_MEDIA, or undefined to keep
 * it. On any failure every temporary file this call wrote is removed before it throws; an aborted `signal`
 * throws the signal's reason.
 */
export async function extractZip(
  zipPath: string,
  tmpDir: string,
  limits: ZipLimits,
  accept?: Accept,
  signal?: AbortSignal,
  /** Runs on each entry as soon as it is written (a media check); throwing refuses the whole archive. */
  afterEntry?: (entry: ExtractedEntry) => Promise<void>,
): Promise<ExtractedEntry[]> {
  signal?.throwIfAborted();
  const extracted: ExtractedEntry[] = [];
  const written: string[] = [];
  let zip: ZipFile | undefined;
  let reading: string | undefined; // the entry being streamed, for damage messages
  try {
    const archiveBytes = (await stat(zipPath)).size;
    zip = await openZip(zipPath);
    // Fail fast on a central directory that claims far too many records. Directories and junk are not
    // counted against maxEntries, but a macOS zip has a `__MACOSX/._x` twin per file and per folder, so an
    // archive within the limit rarely has more than twice as many records; 3× + 100 leaves room for that.
    if (zip.entryCount > limits.maxEntries * 3 + 100) {
      throw new AppError('PAYLOAD_TOO_LARGE', `The zip holds ${zip.entryCount} entries; at most ${limits.maxEntries} files are accepted.`);
    }
    const next = entryReader(zip);
    let total = 0;
    for (let entry = await next(); entry; entry = await next()) {
      signal?.throwIfAborted();
      const name = checkedName(entry);
      if (name.endsWith('/') || isJunk(name)) continue;
      checkKind(entry, name);
      if (extracted.length === limits.maxEntries) {
        throw new AppError('PAYLOAD_TOO_LARGE', `The zip holds more than ${limits.maxEntries} files.`);
      }
      const file = path.join(tmpDir, `.zip-${randomBytes(12).toString('hex')}.part`);
      const guard = new EntryGuard(name, entry, total, archiveBytes, limits, accept);
      reading = name;
      const source = await openEntry(zip, entry);
      written.push(file); // before the stream creates it, so cleanup never misses it
      await pipeline(source, guard, createWriteStream(file, { flags: 'wx' }), { signal });
      reading = undefined;
      total += guard.bytes;
      const done = { name, path: file, bytes: guard.bytes };
      extracted.push(done);
      await afterEntry?.(done);
    }
    return extracted;
  } catch (err) {
    await Promise.all(written.map((f) => rm(f, { force: true })));
    if (signal?.aborted) throw signal.reason;
    // Our own refusals, and I/O errors (disk full, unreadable upload) that are not the archive's fault.
    if (err instanceof AppError || (err instanceof Error && 'syscall' in err)) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw damaged(reading === undefined ? detail : `${quote(reading)} could not be read (${detail})`, err);
  } finally {
    zip?.close();
  }
}

function openZip(zipPath: string): Promise<ZipFile> {
  const options = { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, decodeStrings: false, autoClose: true };
  return new Promise((resolve, reject) => yauzl.open(zipPath, options, (err, zip) => (err ? reject(err) : resolve(zip))));
}

function openEntry(zip: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream))));
}

/**
 * `next()` resolves to the next central-directory entry, or undefined at the end. The listeners stay for the
 * zip's whole life, so an 'error' yauzl emits between two reads is kept (and thrown by the next read) rather
 * than crashing the process as an unhandled 'error' event.
 */
function entryReader(zip: ZipFile): () => Promise<Entry | undefined> {
  let waiting: { resolve: (e: Entry | undefined) => void; reject: (err: Error) => void } | undefined;
  let failed: Error | undefined;
  zip.on('entry', (e: Entry) => waiting?.resolve(e));
  zip.on('end', () => waiting?.resolve(undefined));
  zip.on('error', (err: Error) => {
    failed = err;
    waiting?.reject(err);
  });
  return () =>
    failed
      ? Promise.reject(failed)
      : new Promise((resolve, reject) => {
          waiting = { resolve, reject };
          zip.readEntry();
        });
}

/** The entry's decoded name, or a refusal when it could point anywhere but inside the archive. */
function checkedName(entry: Entry): string {
  const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
  if (name === '') throw new AppError('VALIDATION_FAILED', 'The zip holds an entry with an empty name.');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw refuse(name, 'has control characters in its name');
  if (name.includes('\\')) throw refuse(name, 'uses backslashes in its path');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw refuse(name, 'has an absolute path');
  if (name.split('/').includes('..')) throw refuse(name, 'points outside the archive with ".."');
  return name;
}

function isJunk(name: string): boolean {
  const parts = name.split('/');
  const base = parts[parts.length - 1] ?? '';
  return parts.slice(0, -1).includes('__MACOSX') || base === '.DS_Store' || base.startsWith('._') || base.toLowerCase() === 'thumbs.db';
}

/** Refuses links, devices, fifos, sockets, encrypted entries and compression methods yauzl cannot read. */
function checkKind(entry: Entry, name: string): void {
  const type = (entry.externalFileAttributes >>> 16) & S_IFMT; // unix mode; 0 when the zip was not made on unix
  if (type === S_IFLNK) throw refuse(name, 'is a symbolic link; links are not accepted');
  if (type !== 0 && type !== S_IFREG) throw refuse(name, 'is not a regular file (a device, fifo, socket or directory)');
  if (entry.isEncrypted()) throw refuse(name, 'is encrypted; encrypted archives are not accepted');
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw new AppError('UNSUPPORTED_MEDIA', `The zip entry ${quote(name)} uses compression method ${entry.compressionMethod}; only stored and deflated entries are supported.`);
  }
}

/**
 * Sits between the decompressed entry and its temporary file: counts bytes against the limits, sniffs the
 * head (nested archives, then `accept`) and checks the CRC-32 at the end. Throws inside are turned into
 * stream errors, which make `pipeline` tear everything down.
 */
class EntryGuard extends Transform {
  bytes = 0;
  private crc = 0;
  private head: Buffer | undefined = Buffer.alloc(0); // undefined once checked

  constructor(
    private readonly name: string,
    private readonly entry: Entry,
    private readonly before: number,
    private readonly archiveBytes: number,
    private readonly limits: ZipLimits,
    private readonly accept: Accept | undefined,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.bytes += chunk.length;
      this.checkLimits();
      this.crc = zlib.crc32(chunk, this.crc);
      if (this.head) {
        this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_HEAD - this.head.length)]);
        if (this.head.length === SNIFF_HEAD) this.checkHead(this.head);
      }
      done(null, chunk);
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.head) this.checkHead(this.head);
      if (this.crc !== this.entry.crc32) throw damaged(`${quote(this.name)} fails its CRC-32 check`);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private checkLimits(): void {
    const { maxEntryBytes, maxTotalBytes, maxRatio } = this.limits;
    if (this.bytes > maxEntryBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `The zip entry ${quote(this.name)} unpacks to more than ${maxEntryBytes} bytes, the most one file may hold.`);
    }
    if (this.before + this.bytes > maxTotalBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `The zip unpacks to more than ${maxTotalBytes} bytes in all (reached at ${quote(this.name)}).`);
    }
    // compressedSize is safe to divide by: yauzl reads exactly that many bytes and checks they lie within the
    // file. Comparing against the whole of it refuses exactly the entries whose final ratio is too high.
    if (this.bytes > RATIO_FLOOR && this.bytes > maxRatio * this.entry.compressedSize) {
      throw new AppError('PAYLOAD_TOO_LARGE', `The zip entry ${quote(this.name)} expands more than ${maxRatio} times; it looks like a zip bomb.`);
    }
    const all = this.before + this.bytes;
    if (all > RATIO_FLOOR && all > maxRatio * this.archiveBytes) {
      throw new AppError('PAYLOAD_TOO_LARGE', `The zip expands more than ${maxRatio} times its ${this.archiveBytes} bytes (reached at ${quote(this.name)}); it looks like a zip bomb.`);
    }
  }

  private checkHead(head: Buffer): void {
    this.head = undefined;
    const nested = ARCHIVE_MAGIC.find(([, at, magic]) => head.subarray(at, at + magic.length).equals(magic));
    if (nested) throw refuse(this.name, `is itself ${nested[0]} archive; nested archives are not accepted`);
    const problem = this.accept?.(this.name, head.subarray(0, ACCEPT_HEAD));
    if (problem !== undefined) throw new AppError('UNSUPPORTED_MEDIA', problem);
  }
}
