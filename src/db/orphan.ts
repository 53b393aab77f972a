/**
 * An embedded PostgreSQL outlives a Lookout that was killed with SIGKILL (the OOM killer, a supervisor that
 * kills only node): its postmaster is re-parented and keeps the cluster locked, so the next start failed with
 * "did not start". At start we look at the cluster's postmaster.pid: a live postgres of this cluster whose parent
 * is not a running Lookout (node) is an orphan, and is shut down (fast shutdown, SIGINT: it rolls back open
 * transactions and writes a checkpoint) before ours starts. A postgres whose parent is a node process belongs to
 * a Lookout still running on this DATA_DIR: that one is left alone and the start refused with a clear message.
 * Linux only (it reads /proc); elsewhere PostgreSQL's own stale-lock handling applies.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';

const WAIT_MS = 30_000;

async function procText(pid: number, file: string): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Running (a zombie, exited and waiting for its new parent to reap it, does not count). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The parent pid, from /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function parentOf(stat: string): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

export class ClusterInUseError extends Error {
  override readonly name = 'ClusterInUseError';
}

/** Stops an orphaned postmaster of `clusterDir`; returns its pid when one was stopped. */
export async function stopOrphanedPostmaster(clusterDir: string, logger: Logger): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  let pidFile: string;
  try {
    pidFile = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined; // shut down cleanly, or never started
  }
  const pid = Number(pidFile.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return undefined; // a stale file: PostgreSQL handles it
  const cmdline = (await procText(pid, 'cmdline'))?.split('\0') ?? [];
  // The pid may have been reused by an unrelated process: only a postgres started on this very cluster counts.
  if (!cmdline.some((a) => path.basename(a) === 'postgres') || !cmdline.includes(clusterDir)) return undefined;
  const ppid = parentOf((await procText(pid, 'stat')) ?? '');
  const parent = ppid !== undefined && ppid > 1 ? ((await procText(ppid, 'cmdline')) ?? '') : '';
  if (/(^|\/)node(\0|$)|tsx/.test(parent)) {
    throw new ClusterInUseError(
      `The embedded PostgreSQL in ${clusterDir} is in use by another running Lookout (process ${ppid}). Stop it first, or give this one its own DATA_DIR.`,
    );
  }
  logger.warn({ pid, clusterDir }, 'stopping an embedded PostgreSQL left running by a Lookout that was killed (its cluster is kept)');
  process.kill(pid, 'SIGINT');
  const start = Date.now();
  while (alive(pid)) {
    if (Date.now() - start > WAIT_MS) {
      process.kill(pid, 'SIGQUIT'); // immediate shutdown: PostgreSQL recovers from its WAL at the next start
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  while (alive(pid) && Date.now() - start < WAIT_MS + 5000) await new Promise((r) => setTimeout(r, 100));
  return pid;
}
