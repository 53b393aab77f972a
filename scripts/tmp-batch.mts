import { readFile } from 'node:fs/promises';
import { loadConfig } from '../src/config.js';
import { openEngine } from '../src/inference/from-config.js';
import { createLogger } from '../src/log.js';
const config = loadConfig({ ...process.env, MODELS_DIR: 'models', DATA_DIR: '/tmp/x' });
const engine = await openEngine(config, createLogger('warn'));
const raw = await readFile('/tmp/clip.rgb');
const size = 640 * 480 * 3;
const frames = Array.from({ length: 48 }, (_, i) => ({ data: new Uint8Array(raw.buffer, raw.byteOffset + i * size, size), width: 640, height: 480 }));
for (const name of ['nanodet', 'blazeface']) {
  const d = await engine.get(name);
  for (const b of [1, 2, 4, 8]) await d.detectFrames(frames.slice(0, b));
  for (let round = 0; round < 2; round++) {
    const line: string[] = [];
    for (const b of [1, 2, 4, 8]) {
      const t0 = performance.now();
      for (let i = 0; i < 48; i += b) await d.detectFrames(frames.slice(i, i + b));
      line.push(`b${b} ${((performance.now() - t0) / 48).toFixed(1)}`);
    }
    console.log(name, line.join('  '), 'ms/frame');
  }
}
process.exit(0);
