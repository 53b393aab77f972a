/**
 * `npm run gpu:setup` (scripts/gpu-setup.ts): puts ONNX Runtime's CUDA execution provider beside
 * onnxruntime-node's binding and says whether it can load on this machine.
 *
 * onnxruntime-node is pinned to 1.29.0 with its install script disabled (it would download CUDA binaries),
 * so the provider libraries come from the npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9,
 * whose `package/Plugins/Linux/x64/` holds libonnxruntime_providers_{shared,cuda,tensorrt}.so built for
 * ONNX Runtime 1.29.0 against CUDA 13 and cuDNN 9. What that package says about its version:
 * - its package.json has only its own version (0.4.9) and no ONNX Runtime field;
 * - its README says "ONNX Runtime: [1.29.0]";
 * - libonnxruntime_providers_cuda.so and _tensorrt.so hold the string "1.29.0" (ORT_VERSION, which the
 *   provider reports as its version), NUL-terminated and alone, the only ORT-like version string in them;
 *   libonnxruntime_providers_shared.so (glue, 14 kB) holds none. onnxruntime-node's libonnxruntime.so.1
 *   holds its version the same way.
 * The version string in the provider library is the evidence used; the README is a fallback and a cross-check.
 *
 * What the CUDA provider needs (readelf -d, strings): NEEDED libcublasLt.so.13, libcublas.so.13,
 * libcurand.so.10, libcudart.so.13, libcuda.so.1 (the driver); loaded at run time with dlopen, so invisible
 * to ldd: libcudnn.so.9 and libcufft.so.12 (FFT operators only). The TensorRT provider also NEEDs
 * libnvinfer.so.10, libnvonnxparser.so.10 and libcudnn.so.9.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const GPU_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu';
export const GPU_PACKAGE_VERSION = '0.4.9';
/** dist.integrity of GPU_PACKAGE@GPU_PACKAGE_VERSION on the npm registry; a tarball fetched here must match it. */
export const GPU_PACKAGE_INTEGRITY = 'sha512-FopIhNE/Ng+v2X65wVc9clPCBCvhvA53Hxo2U0Kf5fGdVsC7iCA+mZ0KLWggcQAj7TIZ6pNidR4AC10g74Xo6w==';
/** The ONNX Runtime release GPU_PACKAGE_VERSION is built for, and the onnxruntime-node version package.json pins. */
export const ORT_VERSION = '1.29.0';

/** Where the provider libraries are inside the package root. */
export const PACKAGE_LIB_SUBDIR = join('Plugins', 'Linux', 'x64');
/** Where onnxruntime-node's binding and libonnxruntime.so.1 are inside node_modules/onnxruntime-node. */
export const BINDING_SUBDIR = join('bin', 'napi-v6', 'linux', 'x64');
export const CORE_LIB = 'libonnxruntime.so.1';
export const LIB = {
  shared: 'libonnxruntime_providers_shared.so',
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
} as const;

export type Log = (line: string) => void;

// ---------------------------------------------------------------- small helpers

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started (ENOENT: not installed). */
  notFound?: boolean;
}

async function runCommand(cmd: string, args: string[], opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  try {
    const r = await execFileP(cmd, args, { maxBuffer: 16 << 20, timeout: opts.timeoutMs ?? 60_000, cwd: opts.cwd, env: opts.env, encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') return { code: 127, stdout: '', stderr: `${cmd}: not found`, notFound: true };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? err.message };
  }
}

/** A path as the user would type it from `root` when it lies inside it, else absolute. */
export function displayPath(path: string, root: string): string {
  const rel = relative(root, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

const mb = (bytes: number): string => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);

async function fileDigest(path: string, algorithm: 'sha256' | 'sha512'): Promise<Buffer> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest();
}

// ---------------------------------------------------------------- versions

/** An ONNX Runtime version as stored in its libraries: 1.MINOR.PATCH, MINOR ≥ 10 (which keeps out e.g. "1.3.9"). */
const ORT_VERSION_RE = /^1\.\d{2,3}\.\d{1,3}$/;
const NUL_ONE_DOT = Buffer.from([0, 0x31, 0x2e]); // "\0" "1" "."
const MAX_VERSION_LEN = 12;

function scanVersions(buf: Buffer, limit: number, found: Set<string>): void {
  let i = buf.indexOf(NUL_ONE_DOT);
  while (i !== -1 && i < limit) {
    const end = buf.indexOf(0, i + 1);
    if (end !== -1 && end - i - 1 <= MAX_VERSION_LEN) {
      const s = buf.toString('latin1', i + 1, end);
      if (ORT_VERSION_RE.test(s)) found.add(s);
    }
    i = buf.indexOf(NUL_ONE_DOT, i + 1);
  }
}

/**
 * The ONNX Runtime version strings a library holds: NUL-terminated strings that are exactly "1.MINOR.PATCH"
 * (how ORT_VERSION sits in libonnxruntime.so.1 and in the provider libraries). Read in chunks.
 */
export async function embeddedOrtVersions(path: string): Promise<string[]> {
  const found = new Set<string>();
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) {
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    // A match starting in the last bytes may run past this chunk: leave it to the next round.
    const limit = Math.max(0, buf.length - (MAX_VERSION_LEN + 2));
    scanVersions(buf, limit, found);
    carry = Buffer.from(buf.subarray(limit));
  }
  scanVersions(carry, carry.length, found);
  return [...found].sort();
}

/** "ONNX Runtime: [1.29.0](...)" in the package README (its "Tested environment" list). */
export function readmeOrtVersion(readme: string): string | undefined {
  return /ONNX Runtime:\s*\[?v?(\d+\.\d+\.\d+)/.exec(readme)?.[1];
}

export interface ProviderPackage {
  /** The folder holding the provider .so files. */
  libDir: string;
  /** The package root (package.json, README.md), when the libraries are inside one. */
  root?: string;
  name?: string;
  version?: string;
  /** The README's ONNX Runtime version, when it has one. */
  readmeOrt?: string;
  /** How it was found, for the report: '--from', 'node_modules', 'the cache', 'npm pack'. */
  source: string;
}

/** A provider package at `dir`: its root, its extracted tarball (dir/package) or a folder of the .so files. */
export async function providerPackageAt(dir: string, source: string): Promise<ProviderPackage | undefined> {
  for (const root of [dir, join(dir, 'package')]) {
    const libDir = join(root, PACKAGE_LIB_SUBDIR);
    if (!(await exists(join(libDir, LIB.cuda)))) continue;
    const pkg = await readJson(join(root, 'package.json'));
    let readmeOrt: string | undefined;
    try {
      readmeOrt = readmeOrtVersion(await readFile(join(root, 'README.md'), 'utf8'));
    } catch {
      readmeOrt = undefined;
    }
    return { libDir, root, name: str(pkg?.['name']), version: str(pkg?.['version']), readmeOrt, source };
  }
  if (await exists(join(dir, LIB.cuda))) return { libDir: dir, source };
  return undefined;
}

export interface OrtNodeInfo {
  dir: string;
  bindingDir: string;
  /** node_modules/onnxruntime-node/package.json's version. */
  version?: string;
  /** Version strings in its libonnxruntime.so.1 (undefined: the library is missing). */
  coreLibVersions?: string[];
}

export async function inspectOrtNode(ortNodeDir: string): Promise<OrtNodeInfo> {
  const bindingDir = join(ortNodeDir, BINDING_SUBDIR);
  const pkg = await readJson(join(ortNodeDir, 'package.json'));
  const core = join(bindingDir, CORE_LIB);
  return {
    dir: ortNodeDir,
    bindingDir,
    version: str(pkg?.['version']),
    coreLibVersions: (await exists(core)) ? await embeddedOrtVersions(core) : undefined,
  };
}

export interface ProviderVersion {
  lib: string;
  /** The ONNX Runtime version the library is built for, when known. */
  version?: string;
  /** How it is known, for the report. */
  evidence: string;
}

/** What ONNX Runtime version a provider library is built for: its version string, else the package README. */
export async function providerOrtVersion(libPath: string, readmeOrt?: string): Promise<ProviderVersion> {
  const lib = basename(libPath);
  const found = await embeddedOrtVersions(libPath);
  if (found.length === 1) {
    const cross = readmeOrt && readmeOrt !== found[0] ? `; the package README says ${readmeOrt}, the library wins` : readmeOrt ? '; the package README agrees' : '';
    return { lib, version: found[0], evidence: `version string in ${lib}${cross}` };
  }
  if (found.length > 1) return { lib, evidence: `${lib} holds several version strings (${found.join(', ')})` };
  if (readmeOrt) return { lib, version: readmeOrt, evidence: `no version string in ${lib}; the package README says ${readmeOrt}` };
  return { lib, evidence: `no ONNX Runtime version string in ${lib} and no package README saying one` };
}

export interface VersionCheck {
  ok: boolean;
  ortNode: OrtNodeInfo;
  providers: ProviderVersion[];
  problems: string[];
}

/**
 * Checks that onnxruntime-node is the expected release (ORT_VERSION), that its libonnxruntime.so.1 agrees,
 * and that every provider library in `libPaths` is built for that same release.
 */
export async function checkVersions(opts: { ortNodeDir: string; libPaths: string[]; readmeOrt?: string; expected?: string }): Promise<VersionCheck> {
  const expected = opts.expected ?? ORT_VERSION;
  const ortNode = await inspectOrtNode(opts.ortNodeDir);
  const problems: string[] = [];
  const installed = ortNode.version;
  if (!installed) {
    problems.push(`onnxruntime-node is not installed (no version in ${join(opts.ortNodeDir, 'package.json')}): run npm ci`);
  } else {
    if (!ortNode.coreLibVersions) {
      problems.push(`onnxruntime-node ${installed} has no ${CORE_LIB} in ${ortNode.bindingDir}: run npm ci`);
    } else if (ortNode.coreLibVersions.length > 0 && !ortNode.coreLibVersions.includes(installed)) {
      problems.push(`onnxruntime-node's package.json says ${installed} but its ${CORE_LIB} is ${ortNode.coreLibVersions.join(', ')}: reinstall it (npm ci)`);
    }
  }
  const providers: ProviderVersion[] = [];
  for (const libPath of opts.libPaths) {
    const pv = await providerOrtVersion(libPath, opts.readmeOrt);
    providers.push(pv);
    if (!pv.version) {
      problems.push(`cannot tell which ONNX Runtime release ${pv.lib} is built for (${pv.evidence})`);
    } else if (installed && pv.version !== installed) {
      problems.push(
        `version mismatch: onnxruntime-node ${installed} is installed but ${pv.lib} is built for ONNX Runtime ${pv.version} (${pv.evidence}); ` +
          `the provider must come from the same ONNX Runtime release as the binding (${GPU_PACKAGE}@${GPU_PACKAGE_VERSION} is built for ${ORT_VERSION})`,
      );
    }
  }
  if (installed && installed !== expected && !problems.some((p) => p.startsWith('version mismatch'))) {
    problems.push(`onnxruntime-node ${installed} is installed but gpu:setup is for ONNX Runtime ${expected} (package.json pins onnxruntime-node ${expected}): run npm ci`);
  }
  return { ok: problems.length === 0, ortNode, providers, problems };
}

// ---------------------------------------------------------------- finding / fetching the package

/** Extracts a package tarball into `dest` (its `package/` folder becomes `dest`), via a temporary folder beside it. */
export async function extractTarball(tgz: string, dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = await mkdtemp(join(dirname(dest), `.extract-${basename(dest)}-`));
  try {
    const r = await runCommand('tar', ['-xzf', tgz, '-C', tmp], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`tar -xzf ${tgz} failed: ${r.stderr.trim()}`);
    const inner = (await exists(join(tmp, 'package'))) ? join(tmp, 'package') : tmp;
    await rm(dest, { recursive: true, force: true });
    await rename(inner, dest);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** `npm pack NAME@VERSION` into `cacheDir`, checked against GPU_PACKAGE_INTEGRITY; returns the tarball. */
export async function npmPack(cacheDir: string, log: Log): Promise<string> {
  const spec = `${GPU_PACKAGE}@${GPU_PACKAGE_VERSION}`;
  await mkdir(cacheDir, { recursive: true });
  const tmp = await mkdtemp(join(cacheDir, '.pack-'));
  try {
    log(`  npm pack ${spec} (about 170 MiB from the npm registry)`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = await runCommand(npm, ['pack', spec, '--pack-destination', tmp, '--silent'], { cwd: tmp, timeoutMs: 900_000 });
    if (r.code !== 0) throw new Error(`npm pack ${spec} failed: ${(r.stderr || r.stdout).trim()}`);
    const tgz = (await readdir(tmp)).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${spec} produced no tarball`);
    const integrity = `sha512-${(await fileDigest(join(tmp, tgz), 'sha512')).toString('base64')}`;
    if (integrity !== GPU_PACKAGE_INTEGRITY) throw new Error(`${tgz}: integrity ${integrity} is not the registry's ${GPU_PACKAGE_INTEGRITY}`);
    const dest = join(cacheDir, tgz);
    await rename(join(tmp, tgz), dest);
    return dest;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** The extracted copy of GPU_PACKAGE@GPU_PACKAGE_VERSION in the cache folder. */
export const cachedPackageDir = (cacheDir: string): string => join(cacheDir, `${GPU_PACKAGE}-${GPU_PACKAGE_VERSION}`);

/**
 * GPU_PACKAGE@GPU_PACKAGE_VERSION from the cache folder, fetched with `npm pack` and extracted there first
 * when it is not (the tarball is deleted once extracted; the extracted copy is what is kept).
 */
export async function ensureCachedPackage(cacheDir: string, log: Log = () => undefined): Promise<ProviderPackage> {
  const dir = cachedPackageDir(cacheDir);
  const cached = await providerPackageAt(dir, 'the cache');
  if (cached && cached.version === GPU_PACKAGE_VERSION && (await exists(join(cached.libDir, LIB.shared)))) return cached;
  const tgzName = `${GPU_PACKAGE}-${GPU_PACKAGE_VERSION}.tgz`;
  let tgz = join(cacheDir, tgzName);
  let source = 'npm pack';
  if (!(await exists(tgz))) tgz = await npmPack(cacheDir, log);
  else source = 'a tarball in the cache';
  log(`  extracting ${basename(tgz)}`);
  try {
    await extractTarball(tgz, dir);
  } catch (e) {
    // Another gpu:setup (or test run) may have just put the same package there.
    const other = await providerPackageAt(dir, 'the cache');
    if (!other || other.version !== GPU_PACKAGE_VERSION) throw e;
    return other;
  }
  await rm(tgz, { force: true });
  const pkg = await providerPackageAt(dir, source);
  if (!pkg) throw new Error(`${tgzName} has no ${join(PACKAGE_LIB_SUBDIR, LIB.cuda)}`);
  return pkg;
}

export interface LocatedPackage {
  pkg: ProviderPackage;
  /** Removes what locating made that should not stay (a --from tarball's extraction). */
  cleanup: () => Promise<void>;
}

const noCleanup = async (): Promise<void> => undefined;

/**
 * Finds the provider package: `from` (a folder or a .tgz), else node_modules/GPU_PACKAGE, else the cache
 * folder, fetching it with `npm pack` unless `download` is false (then undefined when there is none).
 */
export async function locateProviderPackage(opts: { root: string; cacheDir: string; from?: string; download: boolean; log: Log }): Promise<LocatedPackage | undefined> {
  if (opts.from) {
    const from = resolve(opts.root, opts.from);
    const st = await stat(from).catch(() => undefined);
    if (!st) throw new Error(`--from ${opts.from}: no such file or folder`);
    if (st.isFile()) {
      const tmp = await mkdtemp(join(tmpdir(), 'lookout-gpu-'));
      opts.log(`  extracting ${from}`);
      await extractTarball(from, join(tmp, 'package'));
      const pkg = await providerPackageAt(join(tmp, 'package'), `--from ${basename(from)}`);
      if (!pkg) {
        await rm(tmp, { recursive: true, force: true });
        throw new Error(`--from ${opts.from}: the tarball has no ${join('package', PACKAGE_LIB_SUBDIR, LIB.cuda)}`);
      }
      return { pkg, cleanup: () => rm(tmp, { recursive: true, force: true }) };
    }
    const pkg = await providerPackageAt(from, '--from');
    if (!pkg) throw new Error(`--from ${opts.from}: no ${LIB.cuda} in it, in ${PACKAGE_LIB_SUBDIR} or in package/${PACKAGE_LIB_SUBDIR}`);
    return { pkg, cleanup: noCleanup };
  }
  const installed = await providerPackageAt(join(opts.root, 'node_modules', GPU_PACKAGE), 'node_modules');
  if (installed) return { pkg: installed, cleanup: noCleanup };
  const cached = await providerPackageAt(cachedPackageDir(opts.cacheDir), 'the cache');
  if (cached && cached.version === GPU_PACKAGE_VERSION) return { pkg: cached, cleanup: noCleanup };
  if (!opts.download) return undefined;
  return { pkg: await ensureCachedPackage(opts.cacheDir, opts.log), cleanup: noCleanup };
}

// ---------------------------------------------------------------- copying

export interface CopyResult {
  file: string;
  action: 'copied' | 'replaced' | 'unchanged';
  bytes: number;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b).catch(() => undefined)]);
  if (!sb || sa.size !== sb.size) return false;
  const [da, db] = await Promise.all([fileDigest(a, 'sha256'), fileDigest(b, 'sha256')]);
  return da.equals(db);
}

/** Copies `files` from `fromDir` into `toDir`, leaving identical files alone; each copy is atomic. */
export async function installLibs(fromDir: string, toDir: string, files: readonly string[]): Promise<CopyResult[]> {
  const out: CopyResult[] = [];
  for (const file of files) {
    const src = join(fromDir, file);
    const dest = join(toDir, file);
    const bytes = (await stat(src)).size;
    const had = await exists(dest);
    if (had && (await sameContent(src, dest))) {
      out.push({ file, action: 'unchanged', bytes });
      continue;
    }
    const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await copyFile(src, tmp);
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    out.push({ file, action: had ? 'replaced' : 'copied', bytes });
  }
  return out;
}

// ---------------------------------------------------------------- loadability

export interface LddOutput {
  /** Library name → resolved path. */
  found: Map<string, string>;
  /** Libraries the loader cannot find. */
  missing: string[];
  /** "version `X' not found" lines. */
  versionErrors: string[];
}

/** Parses `ldd` output (stdout and stderr together). */
export function parseLdd(text: string): LddOutput {
  const found = new Map<string, string>();
  const missing: string[] = [];
  const versionErrors: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\S+) => not found$/.exec(line))) {
      if (!missing.includes(m[1]!)) missing.push(m[1]!);
    } else if ((m = /^(\S+) => (\S+) \(0x[0-9a-f]+\)$/.exec(line))) {
      found.set(m[1]!, m[2]!);
    } else if (/version `[^']+' not found/.test(line)) {
      versionErrors.push(line);
    }
  }
  return { found, missing, versionErrors };
}

export type LibGroup = 'driver' | 'cuda' | 'cudnn' | 'tensorrt' | 'provider' | 'other';

export const GROUP_LABEL: Record<LibGroup, string> = {
  driver: 'NVIDIA driver',
  cuda: 'CUDA 13 runtime',
  cudnn: 'cuDNN 9',
  tensorrt: 'TensorRT 10',
  provider: 'ONNX Runtime provider libraries',
  other: 'other libraries',
};

/** Which part of the NVIDIA stack a library belongs to, for the grouped report. */
export function libraryGroup(name: string): LibGroup {
  if (/^libcuda\.so|^libnvidia-/.test(name)) return 'driver';
  if (/^libcudnn/.test(name)) return 'cudnn';
  if (/^libnv(infer|onnxparser)/.test(name)) return 'tensorrt';
  if (/^libonnxruntime/.test(name)) return 'provider';
  if (/^lib(cu|nv)/.test(name)) return 'cuda';
  return 'other';
}

/** Libraries the CUDA provider opens itself at run time (dlopen; ldd does not list them). */
export const RUNTIME_LOADED: readonly { name: string; required: boolean; why: string }[] = [
  { name: 'libcudnn.so.9', required: true, why: 'opened by the CUDA provider at run time' },
  { name: 'libcufft.so.12', required: false, why: 'only the FFT operators need it' },
];
/** Parts of cuDNN 9 that libcudnn.so.9 opens itself. */
export const CUDNN_PARTS = ['libcudnn_graph.so.9', 'libcudnn_ops.so.9', 'libcudnn_cnn.so.9'];

export interface LibraryLookup {
  /** LD_LIBRARY_PATH's folders. */
  envDirs: string[];
  /** Name → path from `ldconfig -p` (this architecture's entries). */
  ldconfig: Map<string, string>;
  /** The loader's default folders. */
  defaultDirs: string[];
}

export async function libraryLookup(env: NodeJS.ProcessEnv = process.env): Promise<LibraryLookup> {
  const ldconfig = new Map<string, string>();
  for (const cmd of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const r = await runCommand(cmd, ['-p'], { timeoutMs: 15_000 });
    if (r.notFound) continue;
    for (const line of r.stdout.split('\n')) {
      const m = /^\s*(\S+) \(([^)]*)\) => (\S+)$/.exec(line);
      if (!m) continue;
      if (process.arch === 'x64' && !m[2]!.includes('x86-64')) continue;
      if (!ldconfig.has(m[1]!)) ldconfig.set(m[1]!, m[3]!);
    }
    break;
  }
  return {
    envDirs: (env['LD_LIBRARY_PATH'] ?? '').split(delimiter).filter(Boolean),
    ldconfig,
    defaultDirs: ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'],
  };
}

/** Where dlopen(name) would find a library: `extraDirs`, LD_LIBRARY_PATH, the ldconfig cache, the default folders. */
export async function resolveLibrary(name: string, lookup: LibraryLookup, extraDirs: string[] = []): Promise<string | undefined> {
  for (const d of [...extraDirs, ...lookup.envDirs]) if (await exists(join(d, name))) return join(d, name);
  const cached = lookup.ldconfig.get(name);
  if (cached) return cached;
  for (const d of lookup.defaultDirs) if (await exists(join(d, name))) return join(d, name);
  return undefined;
}

export interface DriverInfo {
  /** Where libcuda.so.1 is, when the loader finds it. */
  libcuda?: string;
  /** /proc/driver/nvidia/version's first line, when the kernel module is loaded. */
  kernelModule?: string;
  /** The driver version, from the kernel module line or nvidia-smi. */
  version?: string;
  /** `nvidia-smi --query-gpu=name,driver_version`'s answer, or why there is none. */
  smi: string;
}

export async function inspectDriver(lookup: LibraryLookup): Promise<DriverInfo> {
  const libcuda = await resolveLibrary('libcuda.so.1', lookup);
  let kernelModule: string | undefined;
  let version: string | undefined;
  try {
    kernelModule = (await readFile('/proc/driver/nvidia/version', 'utf8')).split('\n')[0]?.trim();
    version = /Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)/.exec(kernelModule ?? '')?.[1];
  } catch {
    kernelModule = undefined;
  }
  const r = await runCommand('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { timeoutMs: 20_000 });
  let smi: string;
  if (r.notFound) smi = 'nvidia-smi not found';
  else if (r.code !== 0) smi = `nvidia-smi failed: ${(r.stdout + r.stderr).trim().split('\n')[0] ?? ''}`;
  else {
    smi = r.stdout.trim().split('\n').join('; ');
    version ??= /,\s*(\d+\.\d+(?:\.\d+)?)\s*$/.exec(r.stdout.trim().split('\n')[0] ?? '')?.[1];
  }
  return { ...(libcuda ? { libcuda } : {}), ...(kernelModule ? { kernelModule } : {}), ...(version ? { version } : {}), smi };
}

export interface LoadReport {
  /** Missing libraries by group (required ones only). */
  missing: Map<LibGroup, string[]>;
  /** Missing libraries that only some operators need. */
  optionalMissing: string[];
  /** NVIDIA libraries that were found, name → path. */
  found: Map<string, string>;
  driver: DriverInfo;
  /** Other findings worth printing (warnings). */
  notes: string[];
  /** Set when ldd could not be run on the library at all. */
  lddError?: string;
}

function addMissing(missing: Map<LibGroup, string[]>, name: string): void {
  const g = libraryGroup(name);
  const list = missing.get(g) ?? [];
  if (!list.includes(name)) list.push(name);
  missing.set(g, list);
}

/**
 * What the CUDA (and, with `tensorrt`, TensorRT) provider library needs that this machine lacks: `ldd` for
 * the libraries it is linked against, a loader-style search for the ones it opens at run time, and the
 * driver (libcuda.so.1, the kernel module, nvidia-smi).
 */
export async function checkLoadability(libs: { cuda: string; tensorrt?: string }, lookup?: LibraryLookup): Promise<LoadReport> {
  const lk = lookup ?? (await libraryLookup());
  const missing = new Map<LibGroup, string[]>();
  const found = new Map<string, string>();
  const optionalMissing: string[] = [];
  const notes: string[] = [];
  let lddError: string | undefined;
  for (const lib of [libs.cuda, libs.tensorrt].filter((x): x is string => !!x)) {
    const r = await runCommand('ldd', [lib], { timeoutMs: 60_000 });
    const out = r.stdout + '\n' + r.stderr;
    if (r.notFound || (r.code !== 0 && !/=>/.test(out))) {
      lddError = `ldd could not read ${basename(lib)}: ${(out.trim().split('\n')[0] ?? '').trim()}`;
      continue;
    }
    const parsed = parseLdd(out);
    for (const name of parsed.missing) addMissing(missing, name);
    for (const [name, path] of parsed.found) if (libraryGroup(name) !== 'other') found.set(name, path);
    for (const v of parsed.versionErrors) notes.push(v);
    if (parsed.versionErrors.length > 0) addMissing(missing, 'newer C/C++ runtime libraries (version errors above)');
  }
  for (const dep of RUNTIME_LOADED) {
    const path = await resolveLibrary(dep.name, lk);
    if (path) {
      found.set(dep.name, path);
      if (dep.name === 'libcudnn.so.9') {
        for (const part of CUDNN_PARTS) {
          const p = await resolveLibrary(part, lk, [dirname(path)]);
          if (p) found.set(part, p);
          else addMissing(missing, part);
        }
      }
    } else if (dep.required) addMissing(missing, dep.name);
    else optionalMissing.push(`${dep.name} (${dep.why})`);
  }
  const driver = await inspectDriver(lk);
  if (!driver.libcuda) addMissing(missing, 'libcuda.so.1');
  else {
    found.set('libcuda.so.1', driver.libcuda);
    if (!driver.kernelModule && /not found|failed/.test(driver.smi)) {
      notes.push('libcuda.so.1 is there but no NVIDIA kernel module (/proc/driver/nvidia/version) and no working nvidia-smi: no GPU may be reachable here');
    }
  }
  const major = Number(driver.version?.split('.')[0]);
  if (Number.isFinite(major) && major > 0 && major < 580) {
    notes.push(`NVIDIA driver ${driver.version} is older than CUDA 13 needs (580 or newer) unless CUDA forward compatibility libraries are installed`);
  }
  return { missing, optionalMissing, found, driver, notes, ...(lddError ? { lddError } : {}) };
}

/** "NVIDIA driver (libcuda.so.1); CUDA 13 runtime (libcublasLt.so.13, …)" in a fixed group order. */
export function describeMissing(missing: Map<LibGroup, string[]>): string {
  const order: LibGroup[] = ['provider', 'driver', 'cuda', 'cudnn', 'tensorrt', 'other'];
  return order
    .filter((g) => (missing.get(g)?.length ?? 0) > 0)
    .map((g) => `${GROUP_LABEL[g]} (${missing.get(g)!.join(', ')})`)
    .join('; ');
}

// ---------------------------------------------------------------- a real session

export interface SessionAttempt {
  ok: boolean;
  message: string;
}

const SESSION_SCRIPT = `
const [entry, model, ep] = process.argv.slice(1);
const ort = require(entry);
(async () => {
  const t0 = Date.now();
  const s = await ort.InferenceSession.create(model, { executionProviders: [ep], logSeverityLevel: 3 });
  const created = Date.now() - t0;
  const feeds = {};
  let runnable = true;
  for (const m of s.inputMetadata) {
    if (!m.isTensor || m.type !== 'float32') { runnable = false; break; }
    const dims = m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    feeds[m.name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  }
  let ran;
  if (runnable) { const t1 = Date.now(); await s.run(feeds); ran = Date.now() - t1; }
  await s.release();
  console.log('GPU_SETUP_RESULT ' + JSON.stringify({ ok: true, created, ran }));
})().catch((e) => { console.log('GPU_SETUP_RESULT ' + JSON.stringify({ ok: false, message: String(e && e.message || e) })); process.exitCode = 1; });
`;

/**
 * Opens `model` with executionProviders [provider] (and runs it once on zeros) in a child process, so a crash
 * in a provider library cannot take this process down. ONNX Runtime's JS error is generic ("Failed to load
 * shared library"); the reason (e.g. "libcublasLt.so.13: cannot open shared object file") is in its log.
 */
export async function trySession(opts: { ortEntry: string; model: string; provider?: string; timeoutMs?: number }): Promise<SessionAttempt> {
  const provider = opts.provider ?? 'cuda';
  const r = await runCommand(process.execPath, ['-e', SESSION_SCRIPT, opts.ortEntry, opts.model, provider], { timeoutMs: opts.timeoutMs ?? 180_000 });
  // eslint-disable-next-line no-control-regex
  const stderr = r.stderr.replace(/\x1b\[[0-9;]*m/g, '');
  const line = r.stdout.split('\n').find((l) => l.startsWith('GPU_SETUP_RESULT '));
  if (!line) return { ok: false, message: `the child process ended without an answer (exit ${r.code}): ${stderr.trim().split('\n').slice(-3).join(' ')}` };
  const res = JSON.parse(line.slice('GPU_SETUP_RESULT '.length)) as { ok: boolean; message?: string; created?: number; ran?: number };
  if (res.ok) {
    return { ok: true, message: `session created in ${res.created} ms` + (res.ran !== undefined ? `, one run on zeros in ${res.ran} ms` : '') };
  }
  const details = [...stderr.matchAll(/with error: (.+)$/gm)].map((m) => m[1]!.trim());
  return { ok: false, message: [res.message ?? 'failed', ...new Set(details)].join(' — ') };
}

// ---------------------------------------------------------------- the command

export interface GpuSetupOptions {
  /** The project root: the cache folder, models/ and node_modules are found from it. */
  root: string;
  /** node_modules/onnxruntime-node (default: resolved from root). */
  ortNodeDir?: string;
  /** A provider package folder or .tgz to use instead of node_modules / the cache / npm pack. */
  from?: string;
  /** Where `npm pack` output is kept (default root/data/gpu-cache). */
  cacheDir?: string;
  /** Only check: copy nothing, download nothing. */
  check?: boolean;
  /** Also install and check the TensorRT provider. */
  tensorrt?: boolean;
  /** Try a real session with the CUDA provider (default true, skipped with installOnly). */
  session?: boolean;
  /** Copy and check versions, report the CUDA libraries, but exit 0 when they are missing (image builds). */
  installOnly?: boolean;
  /** The model for the session attempt (default root/models/blazeface.onnx). */
  model?: string;
  /** The ONNX Runtime release required (default ORT_VERSION). */
  expectedOrtVersion?: string;
  log?: Log;
}

export interface GpuSetupResult {
  exitCode: 0 | 1;
  ready: boolean;
  /** The last line printed. */
  summary: string;
  versions?: VersionCheck;
  copies: CopyResult[];
  load?: LoadReport;
  session?: SessionAttempt;
}

function defaultOrtNodeDir(root: string): string {
  try {
    return dirname(createRequire(join(root, 'package.json')).resolve('onnxruntime-node/package.json'));
  } catch {
    return join(root, 'node_modules', 'onnxruntime-node');
  }
}

export async function runGpuSetup(opts: GpuSetupOptions): Promise<GpuSetupResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const root = resolve(opts.root);
  const show = (p: string): string => displayPath(p, root);
  const ortNodeDir = opts.ortNodeDir ?? defaultOrtNodeDir(root);
  const bindingDir = join(ortNodeDir, BINDING_SUBDIR);
  const cacheDir = opts.cacheDir ? resolve(root, opts.cacheDir) : join(root, 'data', 'gpu-cache');
  const files: string[] = [LIB.shared, LIB.cuda, ...(opts.tensorrt ? [LIB.tensorrt] : [])];
  const copies: CopyResult[] = [];
  const fail = (summary: string, extra: Partial<GpuSetupResult> = {}): GpuSetupResult => {
    log(summary);
    return { exitCode: 1, ready: false, summary, copies, ...extra };
  };

  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return fail(`CUDA provider: not usable — gpu:setup supports Linux x64 only (this is ${process.platform} ${process.arch})`);
  }
  log(`gpu:setup${opts.check ? ' --check' : ''}: ONNX Runtime CUDA provider for onnxruntime-node (${GPU_PACKAGE}@${GPU_PACKAGE_VERSION})`);

  // 1. the provider package (not needed by --check when the libraries are already installed)
  const installedNow = await Promise.all(files.map((f) => exists(join(bindingDir, f))));
  const allInstalled = installedNow.every(Boolean);
  let located: LocatedPackage | undefined;
  try {
    located = await locateProviderPackage({ root, cacheDir, ...(opts.from ? { from: opts.from } : {}), download: !opts.check, log });
  } catch (e) {
    return fail(`CUDA provider: not usable — ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const pkg = located?.pkg;
    if (pkg) {
      const what = pkg.name && pkg.version ? `${pkg.name}@${pkg.version}` : 'provider libraries';
      log(`provider package: ${what} (${pkg.source}: ${show(pkg.libDir)})`);
    } else {
      log(`provider package: none here (${opts.check ? '--check downloads nothing' : 'not found'})`);
    }

    // 2. versions: of the package's libraries, or (--check) of the installed ones
    const checkDir = opts.check ? (allInstalled ? bindingDir : pkg?.libDir) : pkg?.libDir;
    const versionLibs = [LIB.cuda, ...(opts.tensorrt ? [LIB.tensorrt] : [])].map((f) => join(checkDir ?? bindingDir, f));
    const haveVersionLibs = (await Promise.all(versionLibs.map(exists))).every(Boolean);
    for (const f of files) {
      if (checkDir && !(await exists(join(checkDir, f)))) return fail(`CUDA provider: not usable — ${f} is missing from ${show(checkDir)}`);
    }
    const versions = await checkVersions({
      ortNodeDir,
      libPaths: haveVersionLibs ? versionLibs : [],
      ...(pkg?.readmeOrt && checkDir === pkg.libDir ? { readmeOrt: pkg.readmeOrt } : {}),
      ...(opts.expectedOrtVersion ? { expected: opts.expectedOrtVersion } : {}),
    });
    const core = versions.ortNode.coreLibVersions ? ` (its ${CORE_LIB}: ${versions.ortNode.coreLibVersions.join(', ') || 'no version string'})` : '';
    log(`onnxruntime-node: ${versions.ortNode.version ?? 'not installed'}${core}, ${show(ortNodeDir)}`);
    for (const p of versions.providers) log(`  ${p.lib} (${checkDir === bindingDir ? 'installed' : 'package'}): ONNX Runtime ${p.version ?? '?'} — ${p.evidence}`);
    if (!versions.ok) {
      for (const p of versions.problems) log(`  ✗ ${p}`);
      return fail(`CUDA provider: not usable — ${versions.problems[0]}`, { versions });
    }
    if (versions.providers.length > 0) log(`versions: match (ONNX Runtime ${versions.ortNode.version})`);

    // 3. copy
    if (!opts.check) {
      if (!pkg) return fail('CUDA provider: not usable — no provider package');
      log(`install into ${show(bindingDir)}:`);
      copies.push(...(await installLibs(pkg.libDir, bindingDir, files)));
      for (const c of copies) log(`  ${c.file.padEnd(38)} ${c.action} (${mb(c.bytes)})`);
    } else if (!allInstalled) {
      const absent = files.filter((_, i) => !installedNow[i]);
      log(`installed: ${absent.join(', ')} not in ${show(bindingDir)} (--check copies nothing; run npm run gpu:setup)`);
    } else {
      log(`installed: ${files.join(', ')} in ${show(bindingDir)}`);
      if (pkg) {
        for (const f of files) if (!(await sameContent(join(pkg.libDir, f), join(bindingDir, f)))) log(`  note: ${f} differs from the package's copy (npm run gpu:setup replaces it)`);
      }
    }
    const installedOk = !opts.check || allInstalled;

    // 4. loadability: of the installed libraries, or (--check, not installed) of the package's
    const loadDir = installedOk ? bindingDir : pkg?.libDir;
    let load: LoadReport | undefined;
    if (loadDir) {
      load = await checkLoadability({ cuda: join(loadDir, LIB.cuda), ...(opts.tensorrt ? { tensorrt: join(loadDir, LIB.tensorrt) } : {}) });
      log(`loadability (ldd ${LIB.cuda}${opts.tensorrt ? ` and ${LIB.tensorrt}` : ''}, the loader's search for what it opens at run time):`);
      if (load.lddError) log(`  ✗ ${load.lddError}`);
      const d = load.driver;
      log(`  ${GROUP_LABEL.driver}: ${d.libcuda ? `libcuda.so.1 at ${d.libcuda}` : 'libcuda.so.1 missing'}; ` +
        `${d.kernelModule ? `kernel module: ${d.kernelModule}` : 'no kernel module (/proc/driver/nvidia/version absent)'}; ${d.smi}`);
      for (const g of ['cuda', 'cudnn', ...(opts.tensorrt ? ['tensorrt'] : []), 'other'] as LibGroup[]) {
        const miss = load.missing.get(g) ?? [];
        const have = [...load.found].filter(([n]) => libraryGroup(n) === g).map(([n, p]) => `${n} (${dirname(p)})`);
        if (miss.length === 0 && have.length === 0) continue;
        log(`  ${GROUP_LABEL[g]}: ${miss.length > 0 ? `missing ${miss.join(', ')}` : 'all found'}${have.length > 0 ? `; found ${have.join(', ')}` : ''}`);
      }
      for (const o of load.optionalMissing) log(`  optional, not found: ${o}`);
      for (const n of load.notes) log(`  note: ${n}`);
    }
    if (!installedOk) {
      const m = new Map(load?.missing ?? []);
      m.set('provider', files.filter((_, i) => !installedNow[i]));
      return fail(`CUDA provider: not usable — missing: ${describeMissing(m)}`, { versions, ...(load ? { load } : {}) });
    }
    const missingText = load ? describeMissing(load.missing) : '';
    const blocked = [missingText ? `missing: ${missingText}` : '', load?.lddError ?? ''].filter(Boolean).join('; ');

    if (opts.installOnly) {
      const summary = blocked
        ? `CUDA provider: installed (ONNX Runtime ${versions.ortNode.version}); not loadable on this machine — ${blocked}`
        : `CUDA provider: installed (ONNX Runtime ${versions.ortNode.version}); its libraries resolve here`;
      log(summary);
      return { exitCode: 0, ready: !blocked, summary, copies, versions, ...(load ? { load } : {}) };
    }

    // 4b. a real session
    let session: SessionAttempt | undefined;
    const model = opts.model ? resolve(root, opts.model) : join(root, 'models', 'blazeface.onnx');
    if (opts.session === false) log('session test: skipped (--no-session)');
    else if (!(await exists(model))) log(`session test: skipped (no ${show(model)}; npm run models:setup makes it)`);
    else {
      let ortEntry: string;
      try {
        ortEntry = createRequire(join(ortNodeDir, 'package.json')).resolve(ortNodeDir);
      } catch {
        ortEntry = ortNodeDir;
      }
      session = await trySession({ ortEntry, model });
      log(`session test (${show(model)}, executionProviders ['cuda']): ${session.ok ? 'ok' : 'failed'} — ${session.message}`);
      if (opts.tensorrt) log('session test with TensorRT: not tried (building a TensorRT engine takes minutes); ldd above covers its libraries');
    }

    // 5. the verdict
    if (blocked) return fail(`CUDA provider: not usable — ${blocked}`, { versions, ...(load ? { load } : {}), ...(session ? { session } : {}) });
    if (session && !session.ok) return fail(`CUDA provider: not usable — the session failed: ${session.message}`, { versions, ...(load ? { load } : {}), session });
    const summary = `CUDA provider: ready (ONNX Runtime ${versions.ortNode.version}${session ? `, ${session.message}` : ', libraries resolve; no session tried'})`;
    log(summary);
    return { exitCode: 0, ready: true, summary, copies, versions, ...(load ? { load } : {}), ...(session ? { session } : {}) };
  } finally {
    await located?.cleanup();
  }
}
