/**
 * Whether asking ONNX Runtime for the CUDA (or TensorRT) provider can work at all, found without asking it: on a
 * machine without the provider libraries or the NVIDIA driver, ONNX Runtime prints red C++ error lines to stderr
 * on every attempt, which looks like a failure to anyone starting Lookout on a CPU. The check looks for the
 * provider library beside the binding (`npm run gpu:setup` puts it there) and for the driver (libcuda.so.1) where
 * the loader would; once per process (thread).
 */
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BINDING_SUBDIR, LIB, libraryLookup, resolveLibrary } from './gpu-setup.js';

let probed: Promise<string | undefined> | undefined;

/** The binding folder of onnxruntime-node (where gpu:setup installs the provider libraries). */
function bindingDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node'); // <root>/dist/index.js
  return join(dirname(dirname(entry)), BINDING_SUBDIR);
}

/** Undefined when CUDA may be tried; otherwise why it cannot work here, in words for the log. */
export function cudaUnavailableReason(): Promise<string | undefined> {
  return (probed ??= (async () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') return undefined; // let ONNX Runtime decide elsewhere
    const present = await access(join(bindingDir(), LIB.cuda)).then(
      () => true,
      () => false,
    );
    if (!present) return 'no CUDA provider is installed (`npm run gpu:setup` installs it on a machine with an NVIDIA GPU)';
    const lookup = await libraryLookup();
    if (!(await resolveLibrary('libcuda.so.1', lookup))) return 'no NVIDIA driver was found (libcuda.so.1); `npm run gpu:setup` says more';
    return undefined;
  })());
}
