/**
 * `npm run gpu:setup` (src/inference/gpu-setup.ts) on this CPU-only machine, with real files and no mocks.
 *
 * Most tests build fake packages in a temporary folder: a node_modules/onnxruntime-node with a package.json and
 * a tiny libonnxruntime.so.1, and a provider package (package.json, README.md, Plugins/Linux/x64/*.so) whose
 * "libraries" are a few bytes holding a NUL-terminated version string — that string is what the version check
 * reads from the real libraries, so the fakes exercise the same code. The last block uses the real
 * com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 from data/gpu-cache/, fetched there with `npm pack` (npm
 * registry only, ~170 MiB, a few seconds) when it is not cached yet, like `npm run gpu:setup` does.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BINDING_SUBDIR,
  CORE_LIB,
  checkLoadability,
  checkVersions,
  describeMissing,
  embeddedOrtVersions,
  ensureCachedPackage,
  GPU_PACKAGE,
  installLibs,
  LIB,
  libraryGroup,
  PACKAGE_LIB_SUBDIR,
  parseLdd,
  providerOrtVersion,
  runGpuSetup,
  type LibGroup,
  type ProviderPackage,
} from '../../../src/inference/gpu-setup.js';
import { useTempDir } from '../../helpers/temp-dir.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

const tmp = useTempDir('lookout-gpu-setup-test-');

/** Bytes that look, to the version scan, like a library built for `version` (plus some noise around it). */
const fakeLib = (version: string | undefined, noise = 'ELF stub'): Buffer =>
  Buffer.concat([Buffer.from(`\x7f${noise}\0requires cudnn version 9.22.0\0`), version ? Buffer.from(`\0${version}\0`) : Buffer.alloc(0), Buffer.from('\x001.3.9\0tail')]);

let seq = 0;
async function fakeOrtNode(version: string, coreLibVersion = version): Promise<string> {
  const dir = join(tmp(), `ort-${seq++}`, 'node_modules', 'onnxruntime-node');
  await mkdir(join(dir, BINDING_SUBDIR), { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'onnxruntime-node', version }));
  await writeFile(join(dir, BINDING_SUBDIR, CORE_LIB), fakeLib(coreLibVersion));
  return dir;
}

async function fakeProviderPackage(libVersion: string | undefined, readmeVersion: string | undefined = libVersion): Promise<string> {
  const root = join(tmp(), `pkg-${seq++}`);
  const libDir = join(root, PACKAGE_LIB_SUBDIR);
  await mkdir(libDir, { recursive: true });
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: GPU_PACKAGE, version: '0.4.9' }));
  if (readmeVersion) await writeFile(join(root, 'README.md'), `## Tested environment\n\n- ONNX Runtime: [${readmeVersion}](https://github.com/microsoft/onnxruntime/releases/tag/v${readmeVersion})\n`);
  await writeFile(join(libDir, LIB.shared), Buffer.from('\x7fELF shared glue, no version'));
  await writeFile(join(libDir, LIB.cuda), fakeLib(libVersion, 'cuda'));
  await writeFile(join(libDir, LIB.tensorrt), fakeLib(libVersion, 'tensorrt'));
  return root;
}

describe('version evidence', () => {
  it('finds the NUL-terminated 1.MINOR.PATCH string, also across the 4 MiB read chunks, and nothing else', async () => {
    const big = Buffer.alloc((1 << 22) + 4096, 0x41);
    Buffer.from('\x001.29.0\0').copy(big, (1 << 22) - 4); // straddles the first chunk's end
    Buffer.from('\0cudnn 9.22.0\0\x001.3.9\0\x001.29.0-dev\0').copy(big, 100);
    const file = join(tmp(), 'big.so');
    await writeFile(file, big);
    expect(await embeddedOrtVersions(file)).toEqual(['1.29.0']);
    const none = join(tmp(), 'none.so');
    await writeFile(none, fakeLib(undefined));
    expect(await embeddedOrtVersions(none)).toEqual([]);
  });

  it("uses the library's string first and the package README only when the library has none", async () => {
    const pkg = await fakeProviderPackage(undefined, '1.29.0');
    const v = await providerOrtVersion(join(pkg, PACKAGE_LIB_SUBDIR, LIB.cuda), '1.29.0');
    expect(v.version).toBe('1.29.0');
    expect(v.evidence).toMatch(/no version string in libonnxruntime_providers_cuda\.so; the package README says 1\.29\.0/);
    const pkg2 = await fakeProviderPackage('1.29.0', '1.28.0');
    const v2 = await providerOrtVersion(join(pkg2, PACKAGE_LIB_SUBDIR, LIB.cuda), '1.28.0');
    expect(v2.version).toBe('1.29.0');
    expect(v2.evidence).toMatch(/README says 1\.28\.0, the library wins/);
  });
});

describe('checkVersions', () => {
  it('passes when onnxruntime-node and the provider libraries are both 1.29.0', async () => {
    const ortNodeDir = await fakeOrtNode('1.29.0');
    const pkg = await fakeProviderPackage('1.29.0');
    const libs = [LIB.cuda, LIB.tensorrt].map((f) => join(pkg, PACKAGE_LIB_SUBDIR, f));
    const r = await checkVersions({ ortNodeDir, libPaths: libs, readmeOrt: '1.29.0' });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.ortNode.version).toBe('1.29.0');
    expect(r.ortNode.coreLibVersions).toEqual(['1.29.0']);
    expect(r.providers.map((p) => p.version)).toEqual(['1.29.0', '1.29.0']);
  });

  it('fails naming both versions when onnxruntime-node is not the release the providers are built for', async () => {
    const ortNodeDir = await fakeOrtNode('1.30.0');
    const pkg = await fakeProviderPackage('1.29.0');
    const r = await checkVersions({ ortNodeDir, libPaths: [join(pkg, PACKAGE_LIB_SUBDIR, LIB.cuda)] });
    expect(r.ok).toBe(false);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(/^version mismatch: onnxruntime-node 1\.30\.0 is installed but libonnxruntime_providers_cuda\.so is built for ONNX Runtime 1\.29\.0/);
  });

  it('fails naming both versions when the provider libraries are from another release', async () => {
    const ortNodeDir = await fakeOrtNode('1.29.0');
    const pkg = await fakeProviderPackage('1.28.1');
    const r = await checkVersions({ ortNodeDir, libPaths: [join(pkg, PACKAGE_LIB_SUBDIR, LIB.cuda)] });
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toContain('onnxruntime-node 1.29.0 is installed but libonnxruntime_providers_cuda.so is built for ONNX Runtime 1.28.1');
  });

  it("fails when the provider's release cannot be told, and when onnxruntime-node's own library disagrees with its package.json", async () => {
    const pkg = await fakeProviderPackage(undefined, undefined);
    const r = await checkVersions({ ortNodeDir: await fakeOrtNode('1.29.0'), libPaths: [join(pkg, PACKAGE_LIB_SUBDIR, LIB.cuda)] });
    expect(r.problems.join('\n')).toMatch(/cannot tell which ONNX Runtime release libonnxruntime_providers_cuda\.so is built for/);
    const r2 = await checkVersions({ ortNodeDir: await fakeOrtNode('1.29.0', '1.27.0'), libPaths: [] });
    expect(r2.problems.join('\n')).toMatch(/package\.json says 1\.29\.0 but its libonnxruntime\.so\.1 is 1\.27\.0/);
  });
});

describe('installLibs', () => {
  it('copies, then leaves identical files alone, then replaces a changed one', async () => {
    const pkg = await fakeProviderPackage('1.29.0');
    const from = join(pkg, PACKAGE_LIB_SUBDIR);
    const to = join(tmp(), `binding-${seq++}`);
    await mkdir(to);
    const files = [LIB.shared, LIB.cuda];
    expect((await installLibs(from, to, files)).map((c) => c.action)).toEqual(['copied', 'copied']);
    const before = await stat(join(to, LIB.cuda));
    expect((await installLibs(from, to, files)).map((c) => c.action)).toEqual(['unchanged', 'unchanged']);
    const after = await stat(join(to, LIB.cuda));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    await writeFile(join(from, LIB.cuda), fakeLib('1.29.0', 'cuda, rebuilt'));
    expect((await installLibs(from, to, files)).map((c) => c.action)).toEqual(['unchanged', 'replaced']);
    expect((await readdir(to)).sort()).toEqual([LIB.cuda, LIB.shared]); // no temporary files left
  });
});

describe('runGpuSetup on fake packages', () => {
  it('stops before copying when the versions differ, and says so on the last line', async () => {
    const ortNodeDir = await fakeOrtNode('1.29.0');
    const pkg = await fakeProviderPackage('1.30.0');
    const lines: string[] = [];
    const r = await runGpuSetup({ root: tmp(), ortNodeDir, from: pkg, session: false, log: (l) => lines.push(l) });
    expect(r.exitCode).toBe(1);
    expect(r.copies).toEqual([]);
    expect(existsSync(join(ortNodeDir, BINDING_SUBDIR, LIB.cuda))).toBe(false);
    expect(lines.at(-1)).toMatch(/^CUDA provider: not usable — version mismatch: onnxruntime-node 1\.29\.0 is installed but .* ONNX Runtime 1\.30\.0/);
  });

  it('--check copies nothing and reports the provider libraries as missing', async () => {
    const ortNodeDir = await fakeOrtNode('1.29.0');
    const pkg = await fakeProviderPackage('1.29.0');
    const lines: string[] = [];
    const r = await runGpuSetup({ root: tmp(), ortNodeDir, from: pkg, check: true, session: false, log: (l) => lines.push(l) });
    expect(r.exitCode).toBe(1);
    expect(r.copies).toEqual([]);
    expect((await readdir(join(ortNodeDir, BINDING_SUBDIR))).sort()).toEqual([CORE_LIB]);
    // Then whatever else this machine lacks (here: the driver, cuDNN), found from the package's copy.
    expect(lines.at(-1)).toMatch(/^CUDA provider: not usable — missing: ONNX Runtime provider libraries \(libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so\)/);
  });

  it('installs once, is idempotent on the second run, and fails the load check on libraries ldd cannot read', async () => {
    const ortNodeDir = await fakeOrtNode('1.29.0');
    const pkg = await fakeProviderPackage('1.29.0');
    const first = await runGpuSetup({ root: tmp(), ortNodeDir, from: pkg, session: false, log: () => undefined });
    expect(first.copies.map((c) => `${c.file} ${c.action}`)).toEqual([`${LIB.shared} copied`, `${LIB.cuda} copied`]);
    const lines: string[] = [];
    const second = await runGpuSetup({ root: tmp(), ortNodeDir, from: pkg, session: false, log: (l) => lines.push(l) });
    expect(second.copies.map((c) => c.action)).toEqual(['unchanged', 'unchanged']);
    expect(second.exitCode).toBe(1);
    expect(lines.at(-1)).toMatch(/^CUDA provider: not usable — .*ldd could not read libonnxruntime_providers_cuda\.so/);
  });
});

describe('ldd report', () => {
  it('parses found, missing and version errors, and groups libraries', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd)',
      '\tlibcublasLt.so.13 => not found',
      '\tlibcudart.so.13 => /usr/local/cuda-13.0/lib/libcudart.so.13 (0x00007fc7cce00000)',
      '\tlibcuda.so.1 => not found',
      '\tlibcublasLt.so.13 => not found',
      "./x.so: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by ./x.so)",
    ].join('\n');
    const p = parseLdd(out);
    expect(p.missing).toEqual(['libcublasLt.so.13', 'libcuda.so.1']);
    expect(p.found.get('libcudart.so.13')).toBe('/usr/local/cuda-13.0/lib/libcudart.so.13');
    expect(p.versionErrors).toHaveLength(1);
    const groups = Object.fromEntries(['libcuda.so.1', 'libcublasLt.so.13', 'libcurand.so.10', 'libcufft.so.12', 'libcudnn.so.9', 'libnvinfer.so.10', 'libstdc++.so.6'].map((n) => [n, libraryGroup(n)]));
    expect(groups).toEqual({
      'libcuda.so.1': 'driver',
      'libcublasLt.so.13': 'cuda',
      'libcurand.so.10': 'cuda',
      'libcufft.so.12': 'cuda',
      'libcudnn.so.9': 'cudnn',
      'libnvinfer.so.10': 'tensorrt',
      'libstdc++.so.6': 'other',
    });
    const m = new Map<LibGroup, string[]>([['cudnn', ['libcudnn.so.9']], ['driver', ['libcuda.so.1']], ['cuda', ['libcublasLt.so.13', 'libcublas.so.13']]]);
    expect(describeMissing(m)).toBe('NVIDIA driver (libcuda.so.1); CUDA 13 runtime (libcublasLt.so.13, libcublas.so.13); cuDNN 9 (libcudnn.so.9)');
  });
});

// The real provider libraries. A GPU host has (some of) the NVIDIA stack, so what is missing there differs.
const gpuHost = existsSync('/proc/driver/nvidia/version');
describe.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('the real com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9', () => {
  let pkg: ProviderPackage;
  beforeAll(async () => {
    pkg = await ensureCachedPackage(join(ROOT, 'data', 'gpu-cache'));
  }, 600_000);

  it('is built for ONNX Runtime 1.29.0, like the installed onnxruntime-node', async () => {
    expect(pkg.version).toBe('0.4.9');
    expect(pkg.readmeOrt).toBe('1.29.0');
    expect(await embeddedOrtVersions(join(pkg.libDir, LIB.cuda))).toEqual(['1.29.0']);
    expect(await embeddedOrtVersions(join(pkg.libDir, LIB.shared))).toEqual([]);
    const r = await checkVersions({ ortNodeDir: join(ROOT, 'node_modules', 'onnxruntime-node'), libPaths: [join(pkg.libDir, LIB.cuda)], readmeOrt: pkg.readmeOrt! });
    expect(r.problems).toEqual([]);
  });

  it.skipIf(gpuHost)('reports the CUDA 13 runtime, cuDNN 9 and the driver as missing on this machine', async () => {
    const report = await checkLoadability({ cuda: join(pkg.libDir, LIB.cuda) });
    expect(report.lddError).toBeUndefined();
    expect(report.missing.get('cuda')).toEqual(expect.arrayContaining(['libcublasLt.so.13', 'libcublas.so.13']));
    expect(report.missing.get('cudnn')).toContain('libcudnn.so.9');
    expect(report.missing.get('driver')).toEqual(['libcuda.so.1']);
    expect(report.driver.libcuda).toBeUndefined();
    expect(describeMissing(report.missing)).toMatch(/^NVIDIA driver \(libcuda\.so\.1\); CUDA 13 runtime \(.*libcublasLt\.so\.13.*\); cuDNN 9 \(libcudnn\.so\.9/);
  });
});
