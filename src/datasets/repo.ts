/**
 * Datasets and their files in the database, always scoped to their owner: another user's dataset is simply
 * not found. Public shapes follow the contract: `dataset` = {id, name, tags, fileCount, tokenCost, createdAt},
 * `file` = {id, name, kind, width, height, frames, tokenCost}.
 */
import { sql } from 'kysely';
import { AppError } from '../errors.js';
import type { DatasetFileRow, Db, DbOrTx } from '../db/schema.js';
import { toTokens } from '../tokens/amount.js';

export interface PublicDataset {
  id: string;
  name: string;
  tags: string[];
  fileCount: number;
  tokenCost: number;
  createdAt: string;
}

export interface PublicFile {
  id: string;
  name: string;
  kind: 'image' | 'video';
  width: number;
  height: number;
  frames: number;
  tokenCost: number;
}

export const toPublicFile = (f: DatasetFileRow): PublicFile => ({
  id: f.id,
  name: f.name,
  kind: f.kind,
  width: f.width,
  height: f.height,
  frames: f.frames,
  tokenCost: toTokens(f.token_cost_milli),
});

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (e: unknown): boolean => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === UNIQUE_VIOLATION;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are opaque to clients; anything that is not one of ours is simply not found (and never reaches SQL as a bad uuid). */
export const isId = (id: string | undefined): id is string => id !== undefined && UUID.test(id);

/** Name: 1-100 characters after trimming, no control characters. */
export function validName(v: unknown): string {
  if (typeof v !== 'string') throw new AppError('VALIDATION_FAILED', 'name must be a string.');
  const name = v.trim();
  // eslint-disable-next-line no-control-regex
  if (name.length < 1 || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new AppError('VALIDATION_FAILED', 'name must be 1 to 100 characters, without control characters.');
  }
  return name;
}

/** Tags: up to 20 distinct strings of 1-40 characters each (trimmed). */
export function validTags(v: unknown): string[] {
  if (!Array.isArray(v) || v.length > 20) throw new AppError('VALIDATION_FAILED', 'tags must be an array of at most 20 strings.');
  const tags: string[] = [];
  for (const t of v) {
    if (typeof t !== 'string' || t.trim().length < 1 || t.trim().length > 40) {
      throw new AppError('VALIDATION_FAILED', 'Each tag must be a string of 1 to 40 characters.');
    }
    if (!tags.includes(t.trim())) tags.push(t.trim());
  }
  return tags;
}

function datasetQuery(db: DbOrTx, userId: string) {
  return db
    .selectFrom('datasets as d')
    .leftJoin('dataset_files as f', 'f.dataset_id', 'd.id')
    .select([
      'd.id',
      'd.name',
      'd.tags',
      'd.created_at',
      sql<number>`count(f.id)::int`.as('file_count'),
      sql<number>`coalesce(sum(f.token_cost_milli), 0)::bigint`.as('cost_milli'),
    ])
    .where('d.user_id', '=', userId)
    .groupBy('d.id');
}

type DatasetAgg = { id: string; name: string; tags: string[]; created_at: Date; file_count: number; cost_milli: number | string };
const toPublicDataset = (r: DatasetAgg): PublicDataset => ({
  id: r.id,
  name: r.name,
  tags: r.tags,
  fileCount: r.file_count,
  tokenCost: toTokens(Number(r.cost_milli)),
  createdAt: r.created_at.toISOString(),
});

export async function listDatasets(db: Db, userId: string): Promise<PublicDataset[]> {
  const rows = await datasetQuery(db, userId).orderBy('d.created_at', 'desc').execute();
  return rows.map(toPublicDataset);
}

export async function getDataset(db: DbOrTx, userId: string, id: string | undefined): Promise<PublicDataset> {
  const row = isId(id) ? await datasetQuery(db, userId).where('d.id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw new AppError('NOT_FOUND', 'Dataset not found.');
  return toPublicDataset(row);
}

export async function createDataset(db: Db, userId: string, id: string, name: string, tags: string[]): Promise<PublicDataset> {
  try {
    await db.insertInto('datasets').values({ id, user_id: userId, name, tags: JSON.stringify(tags) }).execute();
  } catch (e) {
    if (isUniqueViolation(e)) throw new AppError('CONFLICT', `You already have a dataset named "${name}".`);
    throw e;
  }
  return getDataset(db, userId, id);
}

export async function updateDataset(db: Db, userId: string, id: string | undefined, patch: { name?: string; tags?: string[] }): Promise<PublicDataset> {
  const current = await getDataset(db, userId, id);
  if (patch.name !== undefined || patch.tags !== undefined) {
    try {
      await db
        .updateTable('datasets')
        .set({ ...(patch.name !== undefined ? { name: patch.name } : {}), ...(patch.tags !== undefined ? { tags: JSON.stringify(patch.tags) } : {}) })
        .where('id', '=', current.id)
        .where('user_id', '=', userId)
        .execute();
    } catch (e) {
      if (isUniqueViolation(e)) throw new AppError('CONFLICT', `You already have a dataset named "${patch.name ?? ''}".`);
      throw e;
    }
  }
  return getDataset(db, userId, current.id);
}

export async function listFiles(db: DbOrTx, datasetId: string): Promise<DatasetFileRow[]> {
  return db.selectFrom('dataset_files').selectAll().where('dataset_id', '=', datasetId).orderBy('created_at').orderBy('name').execute();
}
