/**
 * Uploads write under hidden temporary names (`.upload-<id>.part`, `.zip-<id>.part`) in the dataset's folder and
 * remove them on every failure, but a process killed mid-upload (SIGKILL, the OOM killer, power) cannot. This
 * sweep removes such files once nothing has written to them for `idleMs`: at start, and periodically. An upload
 * in progress writes continuously (and its connection is closed by the HTTP idle timeout of 10 s when the client
 * stalls), so a file idle for longer belongs to no one.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';

export const STALE_PART_IDLE_MS = 60_000;

/** Removes stale temporary upload files under `<dataDir>/datasets/*`; returns how many files and bytes went. */
export async function removeStaleParts(dataDir: string, idleMs: number, logger: Logger, now = Date.now()): Promise<{ files: number; bytes: number }> {
  const root = path.join(dataDir, 'datasets');
  const removed = { files: 0, bytes: 0 };
  let folders: string[];
  try {
    folders = await readdir(root);
  } catch {
    return removed; // no dataset yet
  }
  for (const folder of folders) {
    const dir = path.join(root, folder);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith('.') || !name.endsWith('.part')) continue;
      const file = path.join(dir, name);
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile() || now - st.mtimeMs < idleMs) continue;
      await rm(file, { force: true });
      removed.files++;
      removed.bytes += st.size;
    }
  }
  if (removed.files > 0) logger.warn(removed, 'removed temporary upload files left by an interrupted upload');
  return removed;
}
