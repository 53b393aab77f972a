/**
 * Dataset operations that touch both the database and the disk: deleting a dataset removes its folder, and
 * files can be opened for download. Routes stay thin on top of this and repo.ts.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { DatasetFileRow, Db } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { getDataset, isId } from './repo.js';
import { datasetDir } from './upload.js';

/** Deletes a dataset, its file rows and its folder. Refused while a job on it is queued or running. */
export async function deleteDataset(db: Db, config: Config, logger: Logger, userId: string, id: string | undefined): Promise<void> {
  const ds = await getDataset(db, userId, id);
  await db.transaction().execute(async (tx) => {
    const active = await tx
      .selectFrom('jobs')
      .select('id')
      .where('dataset_id', '=', ds.id)
      .where('state', 'in', ['queued', 'running'])
      .executeTakeFirst();
    if (active) throw new AppError('CONFLICT', `A job on this dataset is still queued or running (${active.id}); cancel it or wait for it to finish.`);
    await tx.deleteFrom('datasets').where('id', '=', ds.id).where('user_id', '=', userId).execute();
  });
  try {
    await rm(datasetDir(config.dataDir, ds.id), { recursive: true, force: true });
  } catch (err) {
    logger.error({ err, datasetId: ds.id }, 'could not remove the files of a deleted dataset');
  }
}

export async function getFile(db: Db, userId: string, datasetId: string | undefined, fileId: string | undefined): Promise<DatasetFileRow> {
  const row =
    isId(datasetId) && isId(fileId)
      ? await db.selectFrom('dataset_files').selectAll().where('id', '=', fileId).where('dataset_id', '=', datasetId).where('user_id', '=', userId).executeTakeFirst()
      : undefined;
  if (!row) throw new AppError('NOT_FOUND', 'File not found.');
  return row;
}

/** Deletes one file of a dataset (row, then bytes). Jobs already submitted keep their own copy of its facts. */
export async function deleteFile(db: Db, config: Config, userId: string, datasetId: string | undefined, fileId: string | undefined): Promise<void> {
  const row = await getFile(db, userId, datasetId, fileId);
  const active = await db
    .selectFrom('job_files as jf')
    .innerJoin('jobs as j', 'j.id', 'jf.job_id')
    .select('j.id')
    .where('jf.file_id', '=', row.id)
    .where('j.state', 'in', ['queued', 'running'])
    .executeTakeFirst();
  if (active) throw new AppError('CONFLICT', `A queued or running job uses this file (${active.id}).`);
  await db.deleteFrom('dataset_files').where('id', '=', row.id).execute();
  await rm(path.join(config.dataDir, row.storage_key), { force: true });
}

export const MIME: Record<string, string> = {
  jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp',
  mp4: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', mkv: 'video/x-matroska', avi: 'video/x-msvideo',
};
