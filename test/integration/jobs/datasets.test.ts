/**
 * Datasets and uploads against a real server: the multipart route, content sniffing, ffprobe on real videos,
 * zip safety, and the promise that a refused upload leaves no file and no row behind.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataset, makeImages, storedFiles, upload } from '../../helpers/datasets.js';
import { faceClipBytes } from '../../helpers/media.js';
import { signUp, startTestServer, type TestServer } from '../../helpers/server.js';
import { makeZip } from '../../helpers/zip.js';

let s: TestServer;
let tmp: string;
let token: string;
let other: string;
let images: { name: string; bytes: Buffer }[];
let video: Buffer;

beforeAll(async () => {
  s = await startTestServer({ IMAGE_MAX_PIXELS: String(1000 * 1000), UPLOAD_MAX_BYTES: String(8 * 1024 * 1024), ZIP_MAX_ENTRIES: '30' });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'lookout-ds-'));
  token = (await signUp(s)).token;
  other = (await signUp(s)).token;
  images = await makeImages(3);
  video = await faceClipBytes(tmp, { seconds: 2, width: 320, height: 240 });
}, 120_000);
afterAll(async () => {
  await s?.close();
  await rm(tmp, { recursive: true, force: true });
});

async function rowCount(): Promise<number> {
  const r = await s.app.database.db.selectFrom('dataset_files').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Uploads, expects the status and error code, and checks nothing new is on disk or in the database. */
async function refused(datasetId: string, name: string, bytes: Uint8Array, status: number, code: string): Promise<string> {
  const filesBefore = await storedFiles(s.dataDir);
  const rowsBefore = await rowCount();
  const r = await upload(s, token, datasetId, name, bytes);
  const body = (await r.json()) as { error: { code: string; message: string } };
  expect({ status: r.status, code: body.error?.code }).toEqual({ status, code });
  expect(await storedFiles(s.dataDir)).toEqual(filesBefore);
  expect(await rowCount()).toBe(rowsBefore);
  return body.error.message;
}

describe('datasets', () => {
  it('creates, lists, renames, tags and refuses a duplicate name', async () => {
    const a = await createDataset(s, token, 'birds');
    const dup = await s.call('POST', '/api/v1/datasets', { token, body: { name: 'birds' } });
    expect(dup.status).toBe(409);
    expect((await s.call('POST', '/api/v1/datasets', { token: other, body: { name: 'birds' } })).status).toBe(201); // per user
    const patched = await s.call('PATCH', `/api/v1/datasets/${a.id}`, { token, body: { name: 'cats', tags: ['pets', 'pets', 'indoor'] } });
    expect(patched.status).toBe(200);
    expect(((await patched.json()) as { dataset: unknown }).dataset).toMatchObject({ id: a.id, name: 'cats', tags: ['pets', 'indoor'], fileCount: 0, tokenCost: 0 });
    const list = (await (await s.call('GET', '/api/v1/datasets', { token })).json()) as { datasets: { name: string }[] };
    expect(list.datasets.map((d) => d.name)).toContain('cats');
    expect((await s.call('POST', '/api/v1/datasets', { token, body: { name: '' } })).status).toBe(400);
    expect((await s.call('POST', '/api/v1/datasets', { token, body: { name: 'x', tags: 'nope' } })).status).toBe(400);
  });

  it('stores an image and a video with their sizes, frame count and cost', async () => {
    const ds = await createDataset(s, token);
    const r1 = await upload(s, token, ds.id, 'photo.jpg', images[0]!.bytes);
    expect(r1.status).toBe(201);
    const j1 = (await r1.json()) as { files: unknown[]; dataset: unknown };
    expect(j1.files).toHaveLength(1);
    expect(j1.files[0]).toMatchObject({ name: 'photo.jpg', kind: 'image', width: 160, height: 160, frames: 1, tokenCost: 0.75 });
    const r2 = await upload(s, token, ds.id, 'clip.bin', video); // the name says nothing; the content decides
    expect(r2.status).toBe(201);
    const j2 = (await r2.json()) as { files: { kind: string; frames: number; width: number; height: number; tokenCost: number }[]; dataset: unknown };
    expect(j2.files[0]).toMatchObject({ kind: 'video', width: 320, height: 240, frames: 60, tokenCost: 30 });
    expect(j2.dataset).toMatchObject({ fileCount: 2, tokenCost: 30.75 });
    const got = (await (await s.call('GET', `/api/v1/datasets/${ds.id}`, { token })).json()) as { files: { id: string }[] };
    expect(got.files).toHaveLength(2);
    const content = await s.call('GET', `/api/v1/datasets/${ds.id}/files/${got.files[0]!.id}/content`, { token });
    expect(content.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await content.arrayBuffer()).equals(images[0]!.bytes)).toBe(true);
  });

  it('keeps UTF-8 file names as sent and strips bidirectional overrides (hostile review, defect 12)', async () => {
    const ds = await createDataset(s, token);
    const names: string[] = [];
    for (const sent of ['ünïcødé.jpg', 'invoice\u202Egpj.exe.jpg']) {
      const r = await upload(s, token, ds.id, sent, images[0]!.bytes);
      expect(r.status).toBe(201);
      names.push(((await r.json()) as { files: { name: string }[] }).files[0]!.name);
    }
    expect(names).toEqual(['ünïcødé.jpg', 'invoicegpj.exe.jpg']);
  });

  it('unpacks a zip with folders into one file per entry', async () => {
    const ds = await createDataset(s, token);
    const zip = makeZip([
      { name: 'a/', directory: true },
      { name: 'a/one.jpg', data: images[0]!.bytes, method: 'deflate' },
      { name: 'a/b/two.jpg', data: images[1]!.bytes },
      { name: '__MACOSX/a/._one.jpg', data: 'junk' },
      { name: 'clip.mp4', data: video, method: 'deflate' },
    ]);
    const r = await upload(s, token, ds.id, 'set.zip', zip);
    expect(r.status).toBe(201);
    const j = (await r.json()) as { files: { name: string; kind: string }[]; dataset: { fileCount: number; tokenCost: number } };
    expect(j.files.map((f) => [f.name, f.kind])).toEqual([['a/one.jpg', 'image'], ['a/b/two.jpg', 'image'], ['clip.mp4', 'video']]);
    expect(j.dataset).toMatchObject({ fileCount: 3, tokenCost: 0.75 * 2 + 60 * 0.5 });
    const onDisk = (await storedFiles(s.dataDir)).filter((f) => f.includes(ds.id));
    expect(onDisk).toHaveLength(3);
    expect(onDisk.every((f) => /^datasets\/[\w-]+\/[\w-]+\.(jpg|mp4)$/.test(f))).toBe(true);
  });

  describe('refuses bad uploads and leaves nothing behind', () => {
    let ds: { id: string };
    beforeAll(async () => {
      ds = await createDataset(s, token);
    });

    it('an HTML page named .jpg → 415', async () => {
      await refused(ds.id, 'cat.jpg', Buffer.from('<!doctype html><html><body>not a cat</body></html>'), 415, 'UNSUPPORTED_MEDIA');
    });
    it('an image over the pixel cap (checked from the header) → 413', async () => {
      const sharp = (await import('sharp')).default;
      const big = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#777' } }).png().toBuffer();
      expect(await refused(ds.id, 'big.png', big, 413, 'PAYLOAD_TOO_LARGE')).toMatch(/1200×1000/);
    });
    it('a truncated JPEG → 415', async () => {
      await refused(ds.id, 'cut.jpg', images[2]!.bytes.subarray(0, Math.floor(images[2]!.bytes.length / 2)), 415, 'UNSUPPORTED_MEDIA');
    });
    it('a truncated video → 415', async () => {
      await refused(ds.id, 'cut.mp4', video.subarray(0, Math.floor(video.length * 0.6)), 415, 'UNSUPPORTED_MEDIA');
    });
    /**
     * Sends a multipart upload of about `bytes` with Node's http client, which (unlike fetch) reads the answer
     * while it is still writing: the server answers 413 early and closes the connection, and the write errors that
     * follow are expected. `chunked` leaves out Content-Length, so only the streamed count can catch it.
     */
    async function oversize(chunked: boolean, bytes: number): Promise<{ status: number; code: string; sent: number }> {
      const boundary = 'lookout-test-boundary';
      const head = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n`), images[0]!.bytes]);
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const chunk = Buffer.alloc(256 * 1024, 7);
      const chunks = Math.ceil(bytes / chunk.length);
      return new Promise((resolve, reject) => {
        const req = http.request(`${s.url}/api/v1/datasets/${ds.id}/files`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(head.length + chunks * chunk.length + tail.length) }),
          },
        });
        let sent = 0;
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, code: (JSON.parse(body) as { error: { code: string } }).error.code, sent });
            req.destroy();
          });
        });
        req.on('error', (e) => {
          if (!answered) reject(e);
        });
        req.write(head);
        sent = head.length;
        let written = 0;
        // One chunk per turn of the event loop, so an early answer is read before the next write.
        const pump = (): void => {
          if (answered) return;
          if (written === chunks) {
            req.end(tail);
            return;
          }
          written++;
          sent += chunk.length;
          if (req.write(chunk)) setImmediate(pump);
          else req.once('drain', pump);
        };
        setTimeout(pump, chunked ? 0 : 200); // with Content-Length the answer comes before any of the body
      });
    }

    it('a body declared over UPLOAD_MAX_BYTES → 413 before it is sent', async () => {
      const filesBefore = await storedFiles(s.dataDir);
      const r = await oversize(false, 9 * 1024 * 1024);
      expect(r).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
      expect(await storedFiles(s.dataDir)).toEqual(filesBefore);
    });
    it('a chunked body (no Content-Length) gets 413 as soon as it crosses the limit, long before it ends', async () => {
      const filesBefore = await storedFiles(s.dataDir);
      const r = await oversize(true, 64 * 1024 * 1024);
      expect(r).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
      expect(r.sent).toBeLessThan(32 * 1024 * 1024); // the limit is 8 MiB; the body would have been 64 MiB
      expect(await storedFiles(s.dataDir)).toEqual(filesBefore);
    });
    it('no field "file" → 400', async () => {
      const filesBefore = await storedFiles(s.dataDir);
      const r = await upload(s, token, ds.id, 'a.jpg', images[0]!.bytes, 'photo');
      expect(r.status).toBe(400);
      expect(await storedFiles(s.dataDir)).toEqual(filesBefore);
    });
    it('not multipart → 415', async () => {
      const r = await s.call('POST', `/api/v1/datasets/${ds.id}/files`, { token, body: { file: 'x' } });
      expect(r.status).toBe(415);
    });
    it.each([
      ['a ../ entry', [{ name: '../evil.jpg' }], 400, 'VALIDATION_FAILED'],
      ['a nested ../ entry', [{ name: 'a/../../evil.jpg' }], 400, 'VALIDATION_FAILED'],
      ['an absolute entry', [{ name: '/etc/evil.jpg' }], 400, 'VALIDATION_FAILED'],
      ['a symlink entry', [{ name: 'link.jpg', data: '/etc/passwd', symlink: true }], 400, 'VALIDATION_FAILED'],
      ['a nested zip', [{ name: 'inner.zip', data: 'zip' }], 400, 'VALIDATION_FAILED'],
      ['a text file', [{ name: 'notes.txt', data: 'hello there, this is not an image' }], 415, 'UNSUPPORTED_MEDIA'],
      ['too many entries', Array.from({ length: 31 }, (_, i) => ({ name: `i${i}.jpg` })), 413, 'PAYLOAD_TOO_LARGE'],
    ])('a zip with %s → %i', async (_what, specs, status, code) => {
      const entries = (specs as { name: string; data?: string; symlink?: boolean }[]).map((e) => ({
        ...e,
        data: e.data === 'zip' ? makeZip([{ name: 'x.jpg', data: images[0]!.bytes }]) : (e.data ?? images[0]!.bytes),
      }));
      // A good image first, so a refusal after the first entry must clean that one up too.
      await refused(ds.id, 'evil.zip', makeZip([{ name: 'good.jpg', data: images[1]!.bytes }, ...entries]), status, code);
    });
    it('a zip bomb → 413', async () => {
      const zeros = Buffer.alloc(40 * 1024 * 1024); // deflates ~1000:1
      zeros.set(images[0]!.bytes);
      await refused(ds.id, 'bomb.zip', makeZip([{ name: 'bomb.jpg', data: zeros, method: 'deflate' }]), 413, 'PAYLOAD_TOO_LARGE');
    });
  });

  it("another user's dataset and files answer 404", async () => {
    const ds = await createDataset(s, token);
    const up = (await (await upload(s, token, ds.id, 'p.jpg', images[0]!.bytes)).json()) as { files: { id: string }[] };
    const fid = up.files[0]!.id;
    for (const [m, p] of [
      ['GET', `/api/v1/datasets/${ds.id}`],
      ['PATCH', `/api/v1/datasets/${ds.id}`],
      ['DELETE', `/api/v1/datasets/${ds.id}`],
      ['GET', `/api/v1/datasets/${ds.id}/files/${fid}`],
      ['GET', `/api/v1/datasets/${ds.id}/files/${fid}/content`],
      ['DELETE', `/api/v1/datasets/${ds.id}/files/${fid}`],
    ] as const) {
      const r = await s.call(m, p, { token: other, ...(m === 'PATCH' ? { body: { name: 'mine' } } : {}) });
      expect([m, p, r.status]).toEqual([m, p, 404]);
    }
    expect((await upload(s, other, ds.id, 'p.jpg', images[0]!.bytes)).status).toBe(404);
  });

  it('deleting a dataset removes its files from disk', async () => {
    const ds = await createDataset(s, token);
    await upload(s, token, ds.id, 'p.jpg', images[0]!.bytes);
    expect((await storedFiles(s.dataDir)).some((f) => f.includes(ds.id))).toBe(true);
    expect((await s.call('DELETE', `/api/v1/datasets/${ds.id}`, { token })).status).toBe(204);
    expect((await storedFiles(s.dataDir)).some((f) => f.includes(ds.id))).toBe(false);
    expect((await s.call('GET', `/api/v1/datasets/${ds.id}`, { token })).status).toBe(404);
  });
});
