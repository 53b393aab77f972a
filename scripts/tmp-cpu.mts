import { readFile } from 'node:fs/promises';
import { loadConfig } from '../src/config.js';
import { openEngine } from '../src/inference/from-config.js';
import { createLogger } from '../src/log.js';
const config = loadConfig({ ...process.env, MODELS_DIR: 'models', DATA_DIR: '/tmp/x' });
const engine = await openEngine(config, createLogger('warn'));
const raw = await readFile('/tmp/clip.rgb');
const size = 640 * 480 * 3;
for (const name of ['blazeface', 'nanodet']) {
  const d = await engine.get(name);
  const frames = Array.from({ length: 300 }, (_, i) => ({ data: new Uint8Array(raw.buffer, raw.byteOffset + i * size, size), width: 640, height: 480 }));
  for (let i = 0; i < 10; i++) await d.detectFrame(frames[i]!);
  for (const batch of [1, 4]) {
    const c0 = process.cpuUsage(); const t0 = performance.now();
    for (let i = 0; i < 300; i += batch) {
      if (batch === 1) await d.detectFrame(frames[i]!);
      else await d.detectFrames(frames.slice(i, i + batch));
    }
    const c = process.cpuUsage(c0); const t = performance.now() - t0;
    console.log(name, 'batch', batch, 'wall/frame', (t / 300).toFixed(2), 'ms cpu/frame', ((c.user + c.system) / 1000 / 300).toFixed(2), 'ms');
  }
}
process.exit(0);
