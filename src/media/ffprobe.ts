/**
 * Finds the ffprobe binary: the `FFPROBE_PATH` given by the caller (config), else the `ffprobe` beside the
 * ffmpeg in use (the two should come from one build), else `ffprobe` on PATH, else the one bundled by
 * @ffprobe-installer/ffprobe. The answer (with the version from `ffprobe -version`) is cached per inputs.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FfprobeInfo {
  path: string;
  source: 'env' | 'sibling' | 'system' | 'bundled';
  version: string;
}

export interface ResolveFfprobeOptions {
  /** FFPROBE_PATH from the configuration; when set it must work (no silent fallback). */
  envPath?: string;
  /** The resolved ffmpeg binary; an `ffprobe` in its folder is preferred. */
  ffmpegPath?: string;
  /** Skip the cache (tests). */
  fresh?: boolean;
}

async function version(bin: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(bin, ['-version'], { timeout: 10_000, maxBuffer: 1 << 20 });
    return /ffprobe version (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

const executable = (file: string): Promise<boolean> => access(file, constants.X_OK).then(() => true, () => false);

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir && (await executable(path.join(dir, name)))) return path.join(dir, name);
  }
  return undefined;
}

function bundledPath(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return (require('@ffprobe-installer/ffprobe') as { path?: string }).path;
  } catch {
    return undefined;
  }
}

async function resolveUncached(envPath: string | undefined, ffmpegPath: string | undefined): Promise<FfprobeInfo> {
  if (envPath) {
    const v = await version(envPath);
    if (!v) throw new Error(`FFPROBE_PATH=${envPath} is not a working ffprobe binary`);
    return { path: envPath, source: 'env', version: v };
  }
  const candidates: [string | undefined, FfprobeInfo['source']][] = [
    [ffmpegPath?.includes(path.sep) ? path.join(path.dirname(ffmpegPath), 'ffprobe') : undefined, 'sibling'],
    [await onPath('ffprobe'), 'system'],
    [bundledPath(), 'bundled'],
  ];
  for (const [file, source] of candidates) {
    const v = file && (await executable(file)) ? await version(file) : undefined;
    if (file && v) return { path: file, source, version: v };
  }
  throw new Error('No ffprobe found: set FFPROBE_PATH, install ffprobe on PATH, or install @ffprobe-installer/ffprobe');
}

const cache = new Map<string, Promise<FfprobeInfo>>();

export function resolveFfprobe(opts: ResolveFfprobeOptions = {}): Promise<FfprobeInfo> {
  const key = `${opts.envPath ?? ''}\n${opts.ffmpegPath ?? ''}`;
  const hit = opts.fresh ? undefined : cache.get(key);
  if (hit) return hit;
  const p = resolveUncached(opts.envPath || undefined, opts.ffmpegPath || undefined);
  cache.set(key, p);
  p.catch(() => cache.delete(key));
  return p;
}
