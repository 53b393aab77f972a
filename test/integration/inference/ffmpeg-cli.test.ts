/** ffmpeg binary resolution and the detect CLI (run as a child process, like a user would). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../../../src/media/ffmpeg.js';
import { ensureModels, FIXTURES } from '../../helpers/onnx-setup.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('resolveFfmpeg', () => {
  it('uses FFMPEG_PATH when given and reports its version', async () => {
    const bundled = (await import('@ffmpeg-installer/ffmpeg')).default.path;
    const info = await resolveFfmpeg({ envPath: bundled, fresh: true });
    expect(info).toMatchObject({ path: bundled, source: 'env' });
    expect(info.version).toMatch(/\S/);
  });

  it('without FFMPEG_PATH prefers an ffmpeg on PATH, else the bundled one, and caches the answer', async () => {
    const info = await resolveFfmpeg({ fresh: true });
    expect(['system', 'bundled']).toContain(info.source);
    if (existsSync('/usr/bin/ffmpeg')) expect(info).toMatchObject({ source: 'system', path: '/usr/bin/ffmpeg' });
    expect(info.version).toMatch(/^\S+$/);
    expect(await resolveFfmpeg()).toBe(await resolveFfmpeg());
  });

  it('a FFMPEG_PATH that does not work is an error, not a silent fallback', async () => {
    await expect(resolveFfmpeg({ envPath: '/nonexistent/ffmpeg', fresh: true })).rejects.toThrow(/FFMPEG_PATH/);
  });
});

const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/detect.ts'), ...args], { cwd: ROOT, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
};

describe('detect CLI', () => {
  beforeAll(async () => {
    await ensureModels();
  }, 120_000);

  it('prints the detections as JSON and writes an annotated image', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'lookout-cli-')), 'cat.png');
    const r = await cli(join(FIXTURES, 'chelsea.jpg'), '--model', 'nanodet', '--annotate', out);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { model: string; width: number; height: number; objects: { label: string }[]; timings: Record<string, number> };
    expect(json).toMatchObject({ model: 'nanodet', width: 451, height: 300 });
    expect(json.objects[0]?.label).toBe('cat');
    expect(Object.keys(json.timings).sort()).toEqual(['decodeMs', 'inferMs', 'postprocessMs', 'preprocessMs', 'totalMs']);
    const meta = await sharp(await readFile(out)).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 451, height: 300 });
  }, 60_000);

  it('an unknown model exits 2 with the list of models', async () => {
    const r = await cli(join(FIXTURES, 'chelsea.jpg'), '--model', 'nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown model "nope". Available: blazeface, emotion, nanodet.');
  }, 60_000);

  it('a file that is not an image exits 1 with UNSUPPORTED_MEDIA', async () => {
    const r = await cli(join(ROOT, 'package.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('UNSUPPORTED_MEDIA');
  }, 60_000);
});
