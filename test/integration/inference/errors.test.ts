/** What goes wrong: bad images, unknown models, bad manifests, missing CUDA, closing. */
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import { DetectionEngine } from '../../../src/inference/index.js';
import { ensureModels, FIXTURES, MODELS_DIR } from '../../helpers/onnx-setup.js';

interface Logged {
  level: 'info' | 'warn';
  o: object;
  m?: string;
}
const recorder = (): { logs: Logged[]; logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void } } => {
  const logs: Logged[] = [];
  return {
    logs,
    logger: {
      info: (o, m) => logs.push({ level: 'info', o, ...(m ? { m } : {}) }),
      warn: (o, m) => logs.push({ level: 'warn', o, ...(m ? { m } : {}) }),
    },
  };
};

const expectAppError = async (p: Promise<unknown>, code: string, message?: RegExp): Promise<void> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AppError);
  expect((e as AppError).code).toBe(code);
  if (message) expect((e as AppError).message).toMatch(message);
};

let engine: DetectionEngine;
let jpeg: Uint8Array;
beforeAll(async () => {
  await ensureModels();
  engine = await DetectionEngine.open({ modelsDir: MODELS_DIR, providers: ['cpu'], intraOpThreads: 0, interOpThreads: 1 });
  jpeg = new Uint8Array(await readFile(join(FIXTURES, 'coffee.jpg')));
}, 120_000);
afterAll(async () => {
  await engine.close();
});

describe('bad input', () => {
  it('garbage bytes give UNSUPPORTED_MEDIA', async () => {
    const d = await engine.get('nanodet');
    await expectAppError(d.detectImage(new TextEncoder().encode('hello, I am not an image')), 'UNSUPPORTED_MEDIA', /JPEG, PNG or WebP/);
    await expectAppError(d.detectImage(new Uint8Array(0)), 'UNSUPPORTED_MEDIA');
  });

  it('a truncated JPEG gives UNSUPPORTED_MEDIA, and the detector keeps working', async () => {
    const d = await engine.get('nanodet');
    await expectAppError(d.detectImage(jpeg.subarray(0, 200)), 'UNSUPPORTED_MEDIA', /could not be decoded/);
    await expectAppError(d.detectImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.6))), 'UNSUPPORTED_MEDIA');
    const ok = await d.detectImage(jpeg);
    expect(ok.width).toBe(600);
  });

  it('a PNG header with garbage after it gives UNSUPPORTED_MEDIA', async () => {
    const d = await engine.get('blazeface');
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await expectAppError(d.detectImage(png), 'UNSUPPORTED_MEDIA');
  });

  it('a frame whose buffer is too small is a validation error', async () => {
    const d = await engine.get('blazeface');
    await expectAppError(d.detectFrame({ data: new Uint8Array(10), width: 4, height: 4 }), 'VALIDATION_FAILED', /needs 48 bytes/);
    await expectAppError(d.detectFrame({ data: new Uint8Array(10), width: 0, height: 4 }), 'VALIDATION_FAILED');
  });
});

describe('models', () => {
  it('an unknown model name is NOT_FOUND with the list of models', async () => {
    await expectAppError(engine.get('yolov99'), 'NOT_FOUND', /^Unknown model "yolov99"\. Available: blazeface, emotion, nanodet\.$/);
  });

  it('concurrent callers share one load; providers() shows loaded models', async () => {
    const [a, b] = await Promise.all([engine.get('blazeface'), engine.get('blazeface')]);
    expect(a).toBe(b);
    expect(engine.providers().blazeface).toEqual(['cpu']);
  });

  it('a bad manifest is logged and skipped; a manifest without its .onnx too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lookout-models-'));
    await copyFile(join(MODELS_DIR, 'blazeface.json'), join(dir, 'blazeface.json'));
    await copyFile(join(MODELS_DIR, 'blazeface.onnx'), join(dir, 'blazeface.onnx'));
    await writeFile(join(dir, 'broken.json'), '{ "name": "broken", ');
    await writeFile(join(dir, 'nofile.json'), JSON.stringify({ name: 'nofile', family: 'yolo', file: 'nofile.onnx', inputSize: [640, 640], labels: 'coco80' }));
    const { logs, logger } = recorder();
    const e = await DetectionEngine.open({ modelsDir: dir, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1, logger });
    expect(e.list().map((m) => m.name)).toEqual(['blazeface']);
    expect(e.defaultModel()).toBe('blazeface');
    const skipped = logs.filter((l) => l.level === 'warn').map((l) => (l.o as { manifest?: string }).manifest);
    expect(skipped.sort()).toEqual(['broken.json', 'nofile.json']);
    await e.close();
  });

  it('a model file that does not match its sha256 is refused at load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lookout-models-'));
    await copyFile(join(MODELS_DIR, 'blazeface.json'), join(dir, 'blazeface.json'));
    await writeFile(join(dir, 'blazeface.onnx'), 'not the model');
    const e = await DetectionEngine.open({ modelsDir: dir, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1 });
    await expectAppError(e.get(), 'UNAVAILABLE', /sha256/);
    await e.close();
  });

  it('an empty models folder has no default model and says how to fix it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lookout-models-'));
    const e = await DetectionEngine.open({ modelsDir: dir, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1 });
    expect(e.list()).toEqual([]);
    await expectAppError(e.get(), 'NOT_FOUND', /models:setup/);
    await e.close();
  });
});

describe('execution providers', () => {
  it('asking for CUDA on a machine without it runs on the CPU, saying so in one line and without asking ONNX Runtime', async () => {
    const { logs, logger } = recorder();
    const e = await DetectionEngine.open({ modelsDir: MODELS_DIR, providers: ['cuda', 'cpu'], intraOpThreads: 1, interOpThreads: 1, logger, defaultModel: 'blazeface' });
    expect(e.defaultModel()).toBe('blazeface');
    const d = await e.get();
    // Where a CUDA build of onnxruntime is present this test says so rather than passing silently.
    expect(d.provider, 'this machine has CUDA: the fallback path is not exercised').toBe('cpu');
    expect(e.providers()).toEqual({ blazeface: ['cpu'] });
    expect((await e.get('nanodet')).provider).toBe('cpu');
    expect(e.providers()).toEqual({ blazeface: ['cpu'], nanodet: ['cpu'] });
    // Nothing to warn about: a machine without a GPU is a normal machine. One line says where models run and why.
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
    const said = logs.filter((l) => l.level === 'info' && /^Models run on the CPU: /.test(l.m ?? ''));
    expect(said).toHaveLength(1);
    expect(said[0]!.m).toMatch(/no CUDA provider is installed|no NVIDIA driver was found/);
    const r = await d.detectImage(new Uint8Array(await readFile(join(FIXTURES, 'astronaut.jpg'))));
    expect(r.objects).toHaveLength(1);
    await e.close();
  });

  it('close() is safe twice and refuses later use', async () => {
    const e = await DetectionEngine.open({ modelsDir: MODELS_DIR, providers: ['cpu'], intraOpThreads: 1, interOpThreads: 1 });
    await e.get('blazeface');
    await e.close();
    await e.close();
    await expectAppError(e.get('blazeface'), 'UNAVAILABLE');
  });
});
