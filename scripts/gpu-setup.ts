/**
 * `npm run gpu:setup`: installs ONNX Runtime's CUDA execution provider beside onnxruntime-node's binding
 * and checks that it can load here (logic in src/inference/gpu-setup.ts).
 *
 * 1. finds com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9: --from, else node_modules, else data/gpu-cache/,
 *    else `npm pack` into data/gpu-cache/ (npm registry only);
 * 2. checks onnxruntime-node is 1.29.0 and the provider libraries are built for ONNX Runtime 1.29.0;
 * 3. copies libonnxruntime_providers_{shared,cuda}.so (+ tensorrt) beside the binding, skipping identical files;
 * 4. reports, grouped, what the CUDA provider needs and this machine lacks (NVIDIA driver, CUDA 13 runtime,
 *    cuDNN 9), then opens models/blazeface.onnx with executionProviders ['cuda'] in a child process;
 * 5. ends with `CUDA provider: ready …` (exit 0) or `CUDA provider: not usable — …` (exit 1).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runGpuSetup } from '../src/inference/gpu-setup.js';

const USAGE = `usage: npm run gpu:setup [-- options]
  --from <dir|.tgz>   use this provider package (folder, extracted tarball or .tgz) instead of fetching one
  --check             only check what is installed: copy nothing, download nothing
  --tensorrt          also install and check the TensorRT provider (libonnxruntime_providers_tensorrt.so)
  --install-only      copy and check versions; report the CUDA libraries but exit 0 when they are missing
                      (image builds, where the CUDA runtime is in another stage); no session test
  --no-session        skip the session test
  --model <file>      model for the session test (default models/blazeface.onnx)
  --cache-dir <dir>   where npm pack's package is kept (default data/gpu-cache)`;

/** The repository root, from scripts/ or dist/scripts/. */
function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = dirname(here);
  return up.endsWith('dist') ? dirname(up) : up;
}

const options = {
  from: { type: 'string' },
  check: { type: 'boolean' },
  tensorrt: { type: 'boolean' },
  'install-only': { type: 'boolean' },
  'no-session': { type: 'boolean' },
  model: { type: 'string' },
  'cache-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const parse = (args: string[]) => parseArgs({ args, options, strict: true, allowPositionals: false }).values;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let values: ReturnType<typeof parse>;
  try {
    values = parse(process.argv.slice(2));
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const root = projectRoot();
  // Paths given on the command line are relative to where it was typed (npm run moves to the root; INIT_CWD is the original).
  const here = process.env['INIT_CWD'] ?? process.cwd();
  try {
    const r = await runGpuSetup({
      root,
      check: values.check ?? false,
      tensorrt: values.tensorrt ?? false,
      installOnly: values['install-only'] ?? false,
      session: !values['no-session'],
      cacheDir: values['cache-dir'] ? resolve(here, values['cache-dir']) : join(root, 'data', 'gpu-cache'),
      ...(values.from ? { from: resolve(here, values.from) } : {}),
      ...(values.model ? { model: resolve(here, values.model) } : {}),
    });
    process.exitCode = r.exitCode;
  } catch (e) {
    console.error(`gpu:setup failed: ${e instanceof Error ? e.message : String(e)}`);
    console.log('CUDA provider: not usable — gpu:setup failed (see above)');
    process.exitCode = 1;
  }
}
