import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ZIP_LIMITS, extractZip, type ZipLimits } from '../../../src/datasets/zip.js';
import { AppError, type ErrorCode } from '../../../src/errors.js';
import { useTempDir } from '../../helpers/temp-dir.js';
import { makeZip, writeZip, type ZipEntrySpec } from '../../helpers/zip.js';

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(3000)]);
const PNG = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), randomBytes(70_000)]);
const MiB = 1024 ** 2;
const ZEROS_50MB = Buffer.alloc(50 * 1000 * 1000);
const ROOMY: ZipLimits = { maxEntries: 1000, maxTotalBytes: 1e12, maxEntryBytes: 1e12, maxRatio: 1e9 };

const tmpDir = useTempDir('lookout-zip-', { each: true });
let tmp: string;
let zipPath: string;

beforeEach(() => {
  tmp = tmpDir();
  zipPath = path.join(tmp, 'upload.part');
});

/** Extracts `zipPath`, expecting an AppError with `code`, and checks that nothing was left behind. */
async function refused(code: ErrorCode, limits: ZipLimits = DEFAULT_ZIP_LIMITS, accept?: (name: string, head: Uint8Array) => string | undefined): Promise<AppError> {
  const before = await readdir(tmp);
  const err = await extractZip(zipPath, tmp, limits, accept).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  expect((await readdir(tmp)).sort()).toEqual(before.sort());
  return err as AppError;
}

/** A good entry first, so every refusal also proves the files already written are removed. */
const withGoodFirst = (bad: ZipEntrySpec): ZipEntrySpec[] => [{ name: 'ok/first.jpg', data: JPEG, method: 'deflate' }, bad];

describe('extractZip', () => {
  it('extracts stored and deflated entries in nested folders, byte for byte, in central-directory order', async () => {
    await writeZip(zipPath, [
      { name: 'cats/', directory: true },
      { name: 'cats/a.jpg', data: JPEG },
      { name: 'dogs/puppies/b.png', data: PNG, method: 'deflate' },
      { name: 'dup.jpg', data: JPEG, method: 'deflate' },
      { name: 'dup.jpg', data: JPEG.subarray(0, 100) },
      { name: 'empty.jpg', data: '' },
    ]);
    const got = await extractZip(zipPath, tmp, DEFAULT_ZIP_LIMITS);
    expect(got.map((e) => [e.name, e.bytes])).toEqual([
      ['cats/a.jpg', JPEG.length],
      ['dogs/puppies/b.png', PNG.length],
      ['dup.jpg', JPEG.length],
      ['dup.jpg', 100],
      ['empty.jpg', 0],
    ]);
    const expected = [JPEG, PNG, JPEG, JPEG.subarray(0, 100), Buffer.alloc(0)];
    for (const [i, e] of got.entries()) {
      expect(path.dirname(e.path)).toBe(tmp);
      expect(path.basename(e.path)).toMatch(/^\.zip-[0-9a-f]+\.part$/);
      expect((await readFile(e.path)).equals(expected[i] ?? Buffer.alloc(1))).toBe(true);
    }
    expect(new Set(got.map((e) => e.path)).size).toBe(got.length);
  });

  it('skips directories and operating-system junk', async () => {
    await writeZip(zipPath, [
      { name: '__MACOSX/', directory: true },
      { name: '__MACOSX/cats/._a.jpg', data: 'resource fork' },
      { name: 'cats/._a.jpg', data: 'resource fork' },
      { name: '.DS_Store', data: 'finder' },
      { name: 'cats/.DS_Store', data: 'finder' },
      { name: 'cats/Thumbs.db', data: 'thumbs' },
      { name: 'cats/a.jpg', data: JPEG },
    ]);
    const got = await extractZip(zipPath, tmp, DEFAULT_ZIP_LIMITS, (name) => (name.endsWith('.jpg') ? undefined : `${name} is not media`));
    expect(got.map((e) => e.name)).toEqual(['cats/a.jpg']);
  });

  it.each([
    ['../evil.jpg', /outside the archive/],
    ['a/../../evil', /outside the archive/],
    ['__MACOSX/../../evil', /outside the archive/],
    ['/etc/passwd', /absolute path/],
    ['C:/x', /absolute path/],
    ['c:x.jpg', /absolute path/],
    ['a\\b.jpg', /backslashes/],
    ['..\\evil.jpg', /backslashes/],
    ['a\u0000b.jpg', /control characters/],
    ['a\nb.jpg', /control characters/],
    ['', /empty name/],
  ])('refuses the unsafe name %j', async (name, message) => {
    await writeZip(zipPath, withGoodFirst({ name, data: JPEG }));
    const err = await refused('VALIDATION_FAILED');
    expect(err.message).toMatch(message);
    if (name) expect(err.message).toContain(JSON.stringify(name));
  });

  it.each([
    ['a symbolic link', { symlink: true, data: '/etc/passwd' }, /symbolic link/],
    ['a fifo', { mode: 0o010644 }, /not a regular file/],
    ['a character device', { mode: 0o020644 }, /not a regular file/],
    ['a block device', { mode: 0o060644 }, /not a regular file/],
    ['a socket', { mode: 0o140644 }, /not a regular file/],
    ['a directory without a trailing slash', { mode: 0o040755 }, /not a regular file/],
    ['an encrypted entry', { encrypted: true, data: JPEG }, /encrypted/],
  ])('refuses %s', async (_what, spec: Partial<ZipEntrySpec>, message) => {
    await writeZip(zipPath, withGoodFirst({ name: 'x.jpg', ...spec }));
    expect((await refused('VALIDATION_FAILED')).message).toMatch(message);
  });

  it('refuses compression methods it cannot read with 415', async () => {
    const zip = makeZip([{ name: 'a.jpg', data: JPEG, method: 'deflate' }]);
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt16LE(14, central + 10); // LZMA
    zip.writeUInt16LE(14, 8);
    await writeFile(zipPath, zip);
    expect((await refused('UNSUPPORTED_MEDIA')).message).toMatch(/compression method 14/);
  });

  const tarHeader = Buffer.alloc(600);
  tarHeader.write('photo.jpg', 0);
  tarHeader.write('ustar\u000000', 257, 'latin1');
  it.each([
    ['zip', makeZip([{ name: 'inner.jpg', data: JPEG }])],
    ['empty zip', makeZip([])],
    ['gzip', zlib.gzipSync(JPEG)],
    ['bzip2', Buffer.from('BZh91AY&SY', 'latin1')],
    ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04])],
    ['7z', Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04])],
    ['rar', Buffer.from('Rar!\x1a\x07\x01\x00', 'latin1')],
    ['tar', tarHeader],
  ])('refuses a nested %s archive', async (_kind, data) => {
    await writeZip(zipPath, withGoodFirst({ name: 'inner.jpg', data, method: 'deflate' }));
    const err = await refused('VALIDATION_FAILED', DEFAULT_ZIP_LIMITS, () => undefined);
    expect(err.message).toMatch(/"inner\.jpg" is itself an? \w+ archive; nested archives are not accepted/);
  });

  it('counts files, not directories or junk, against maxEntries', async () => {
    const limits = { ...DEFAULT_ZIP_LIMITS, maxEntries: 3 };
    const files = ['a.jpg', 'b.jpg', 'c.jpg'].map((name) => ({ name, data: JPEG }));
    await writeZip(zipPath, [{ name: 'd', directory: true }, ...files, { name: '.DS_Store', data: 'x' }, { name: '__MACOSX/._a.jpg', data: 'x' }]);
    expect(await extractZip(zipPath, tmp, limits)).toHaveLength(3);

    await writeZip(zipPath, [...files, { name: 'd.jpg', data: JPEG }]);
    expect((await refused('PAYLOAD_TOO_LARGE', limits)).message).toMatch(/more than 3 files/);
  });

  it('fails fast when the central directory claims far too many entries', async () => {
    // 200 junk entries would be skipped one by one; the record count alone is enough to refuse.
    await writeZip(zipPath, Array.from({ length: 200 }, (_, i) => ({ name: `__MACOSX/._${i}.jpg`, data: 'x' })));
    expect((await refused('PAYLOAD_TOO_LARGE', { ...DEFAULT_ZIP_LIMITS, maxEntries: 10 })).message).toMatch(/holds 200 entries/);
  });

  it('stops a bomb by total bytes', async () => {
    const bomb = { data: ZEROS_50MB, method: 'deflate' } as const;
    await writeZip(zipPath, [{ name: 'a.bin', ...bomb }, { name: 'b.bin', ...bomb }, { name: 'c.bin', ...bomb }]);
    const err = await refused('PAYLOAD_TOO_LARGE', { ...ROOMY, maxTotalBytes: 120 * MiB });
    expect(err.message).toMatch(/more than 125829120 bytes in all \(reached at "c\.bin"\)/);
  });

  it('stops a bomb by ratio with the default limits, but keeps small files that compress well', async () => {
    await writeZip(zipPath, [{ name: 'blank.bmp', data: Buffer.alloc(MiB), method: 'deflate' }]);
    expect(await extractZip(zipPath, tmp, DEFAULT_ZIP_LIMITS)).toHaveLength(1);

    await writeZip(zipPath, [{ name: 'bomb.bin', data: ZEROS_50MB, method: 'deflate' }]);
    expect((await refused('PAYLOAD_TOO_LARGE')).message).toMatch(/"bomb\.bin" expands more than 100 times; it looks like a zip bomb/);
  });

  it('stops many small entries that add up to a bomb, by the ratio of the whole archive (hostile review, defect 6)', async () => {
    // Each entry stays under the 1 MiB floor of the per-entry check; together they expand ~1000 times.
    const entries = Array.from({ length: 100 }, (_, i) => ({ name: `${i}.jpg`, data: Buffer.alloc(MiB - 1), method: 'deflate' as const }));
    await writeZip(zipPath, entries);
    const seen: string[] = [];
    const err = await extractZip(zipPath, tmp, DEFAULT_ZIP_LIMITS, undefined, undefined, async (e) => {
      seen.push(e.name);
    }).then(
      () => undefined,
      (e: unknown) => e as AppError,
    );
    expect(err?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(err?.message).toMatch(/The zip expands more than 100 times its \d+ bytes/);
    // Stopped after about 100 × the archive's size had come out, not after all 100 MiB.
    const archive = (await readFile(zipPath)).length;
    expect(seen.length).toBeLessThanOrEqual(Math.ceil((100 * archive) / MiB));
    expect(await readdir(tmp)).toEqual([path.basename(zipPath)]); // every entry written was removed
  });

  it('runs afterEntry on each entry as soon as it is written, and a refusal there stops the rest', async () => {
    await writeZip(zipPath, ['a.jpg', 'b.jpg', 'c.jpg'].map((name) => ({ name, data: JPEG })));
    const seen: string[] = [];
    const err = await extractZip(zipPath, tmp, DEFAULT_ZIP_LIMITS, undefined, undefined, async (e) => {
      seen.push(e.name);
      expect((await readFile(e.path)).length).toBe(JPEG.length);
      if (e.name === 'b.jpg') throw new AppError('UNSUPPORTED_MEDIA', 'b is bad');
    }).then(
      () => undefined,
      (e: unknown) => e as AppError,
    );
    expect(err?.message).toBe('b is bad');
    expect(seen).toEqual(['a.jpg', 'b.jpg']);
    expect(await readdir(tmp)).toEqual([path.basename(zipPath)]);
  });

  it('caps each entry', async () => {
    await writeZip(zipPath, withGoodFirst({ name: 'big.png', data: PNG, method: 'deflate' }));
    const err = await refused('PAYLOAD_TOO_LARGE', { ...DEFAULT_ZIP_LIMITS, maxEntryBytes: PNG.length - 1 });
    expect(err.message).toMatch(/"big\.png" unpacks to more than \d+ bytes, the most one file may hold/);
  });

  it.each([
    ['a deflated entry understates its size', { method: 'deflate', declaredSize: 1000 }],
    ['a deflated entry overstates its size', { method: 'deflate', declaredSize: JPEG.length + 1 }],
    ['a stored entry lies about its size', { method: 'store', declaredSize: 1000 }],
  ] as const)('refuses an archive where %s', async (_what, spec) => {
    await writeZip(zipPath, withGoodFirst({ name: 'liar.jpg', data: JPEG, ...spec }));
    expect((await refused('VALIDATION_FAILED')).message).toMatch(/^The zip archive is damaged: /);
  });

  it('refuses an entry whose CRC-32 does not match', async () => {
    const zip = makeZip([{ name: 'a.jpg', data: JPEG }]);
    const at = 30 + 'a.jpg'.length + 100; // a byte of the stored data
    zip.writeUInt8(zip.readUInt8(at) ^ 0xff, at);
    await writeFile(zipPath, zip);
    expect((await refused('VALIDATION_FAILED')).message).toMatch(/damaged: "a\.jpg" fails its CRC-32 check/);
  });

  it('refuses a truncated zip and a file that is not a zip', async () => {
    const zip = makeZip([{ name: 'a.jpg', data: JPEG }, { name: 'b.jpg', data: JPEG }]);
    await writeFile(zipPath, zip.subarray(0, zip.length - 30));
    expect((await refused('VALIDATION_FAILED')).message).toMatch(/^The zip archive is damaged: /);

    await writeFile(zipPath, JPEG);
    expect((await refused('VALIDATION_FAILED')).message).toMatch(/^The zip archive is damaged: /);
  });

  it('passes I/O errors through unchanged', async () => {
    await expect(extractZip(path.join(tmp, 'missing.zip'), tmp, DEFAULT_ZIP_LIMITS)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses the whole archive with 415 when accept refuses an entry', async () => {
    await writeZip(zipPath, [
      { name: 'a.jpg', data: JPEG },
      { name: 'notes.txt', data: 'hello' },
      { name: 'b.jpg', data: JPEG },
    ]);
    const accept = vi.fn((name: string) => (name.endsWith('.txt') ? `"${name}" in the zip is not an image.` : undefined));
    const err = await refused('UNSUPPORTED_MEDIA', DEFAULT_ZIP_LIMITS, accept);
    expect(err.message).toBe('"notes.txt" in the zip is not an image.');
    expect(accept.mock.calls.map(([name]) => name)).toEqual(['a.jpg', 'notes.txt']);
    const [, head] = accept.mock.calls[0] as unknown as [string, Uint8Array];
    expect(Buffer.from(head).equals(JPEG.subarray(0, 64))).toBe(true);
  });

  it('honours an abort signal, before and during extraction', async () => {
    await writeZip(zipPath, [
      { name: 'a.jpg', data: JPEG },
      { name: 'b.jpg', data: PNG, method: 'deflate' },
      { name: 'c.jpg', data: JPEG },
    ]);
    const reason = new Error('client went away');
    await expect(extractZip(zipPath, tmp, DEFAULT_ZIP_LIMITS, undefined, AbortSignal.abort(reason))).rejects.toBe(reason);

    const before = await readdir(tmp);
    const ctrl = new AbortController();
    const abortAtB = (name: string): undefined => {
      if (name === 'b.jpg') ctrl.abort(reason);
    };
    await expect(extractZip(zipPath, tmp, DEFAULT_ZIP_LIMITS, abortAtB, ctrl.signal)).rejects.toBe(reason);
    expect(await readdir(tmp)).toEqual(before);
  });
});
