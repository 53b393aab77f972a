/**
 * Finds the ffmpeg binary: the `FFMPEG_PATH` given by the caller (config), else `ffmpeg` on PATH,
 * else the one bundled by @ffmpeg-installer/ffmpeg. The answer (with the version parsed from
 * `ffmpeg -version`) is cached per `envPath`.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FfmpegInfo {
  path: string;
  source: 'env' | 'system' | 'bundled';
  version: string;
}

/** "ffmpeg version 5.1.6-0+deb12u1 Copyright ..." -> "5.1.6-0+deb12u1" */
export function parseFfmpegVersion(output: string): string | undefined {
  return /ffmpeg version (\S+)/.exec(output)?.[1];
}

async function probe(path: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(path, ['-version'], { timeout: 10_000, maxBuffer: 1 << 20 });
    return parseFfmpegVersion(stdout) ?? parseFfmpegVersion(`ffmpeg ${stdout}`);
  } catch {
    return undefined;
  }
}

function bundledPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const mod = require('@ffmpeg-installer/ffmpeg') as { path?: string };
    return mod.path;
  } catch {
    return undefined;
  }
}

const cache = new Map<string, Promise<FfmpegInfo>>();

export interface ResolveFfmpegOptions {
  /** FFMPEG_PATH from the configuration; when set it must work (no silent fallback). */
  envPath?: string;
  /** Skip the cache (tests). */
  fresh?: boolean;
}

async function resolveUncached(envPath: string | undefined): Promise<FfmpegInfo> {
  if (envPath) {
    const version = await probe(envPath);
    if (!version) throw new Error(`FFMPEG_PATH=${envPath} is not a working ffmpeg binary`);
    return { path: envPath, source: 'env', version };
  }
  const system = await probe('ffmpeg');
  if (system) {
    const which = await run('sh', ['-c', 'command -v ffmpeg']).then((r) => r.stdout.trim()).catch(() => '');
    return { path: which || 'ffmpeg', source: 'system', version: system };
  }
  const bundled = bundledPath();
  const version = bundled ? await probe(bundled) : undefined;
  if (bundled && version) return { path: bundled, source: 'bundled', version };
  throw new Error('No ffmpeg found: set FFMPEG_PATH, install ffmpeg on PATH, or install @ffmpeg-installer/ffmpeg');
}

export function resolveFfmpeg(opts: ResolveFfmpegOptions = {}): Promise<FfmpegInfo> {
  const key = opts.envPath ?? '';
  const hit = opts.fresh ? undefined : cache.get(key);
  if (hit) return hit;
  const p = resolveUncached(opts.envPath || undefined);
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  return p;
}
