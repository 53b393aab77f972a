/** Inference jobs (contract: "Inference jobs"). Others' jobs, results and outputs answer 404. */
import { enforce } from '../../accounts/rate-limit.js';
import path from 'node:path';
import { AppError } from '../../errors.js';
import { getJob, listJobs, toPublicJob } from '../../jobs/repo.js';
import { toCoco, toCsv } from '../../jobs/export.js';
import { purgeJob } from '../../lifecycle/delete.js';
import { cancelJob, submitJob } from '../../jobs/service.js';
import type { AppDeps } from '../deps.js';
import { beforeParam, json, limitParam, noContent, readJson, sendFile } from '../respond.js';
import { BAD_REQUEST, errorResp, jsonBody, jsonResponse, obj, beforePageParams, PIPELINE_FIELDS, ref, UNAUTH } from '../schemas.js';
import type { Route } from '../types.js';
import { isId } from '../../datasets/repo.js';

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const NOT_FOUND = { '404': errorResp('No such job of yours (NOT_FOUND).') };
const jobResp = (d: string): Record<string, unknown> => jsonResponse(d, obj({ job: ref('Job') }));

export function jobRoutes(deps: AppDeps): Route[] {
  const { db, config } = deps;
  const annotatedUrl = (jobId: string, fileId: string): string => `/api/v1/jobs/${jobId}/files/${fileId}/annotated`;
  return [
    {
      method: 'POST',
      path: '/api/v1/jobs',
      access: 'user',
      doc: {
        summary: 'Run a model over every file of a dataset',
        description:
          "The dataset's whole cost is reserved now (402 and nothing queued when the balance is short); each image or video frame " +
          'is charged once as it is done, and what is not spent (failed or cancelled items) is returned when the job ends. ' +
          'Follow it on the WebSocket topic `jobs`.',
        tags: ['Jobs'],
        requestBody: jsonBody(obj({ datasetId: { type: 'string' }, ...PIPELINE_FIELDS }, ['datasetId'])),
        responses: {
          '202': jobResp('Queued'),
          '400': errorResp('Bad body, a bad pipeline field (named in the message), or an empty dataset (VALIDATION_FAILED).'),
          ...UNAUTH,
          '402': errorResp('The balance is below the dataset’s cost (INSUFFICIENT_TOKENS); nothing was charged or queued.'),
          '404': errorResp('No such dataset of yours, or no such model (NOT_FOUND).'),
          '429': errorResp('Too many job submissions from this user or address (RATE_LIMITED); see Retry-After.'),
          '503': errorResp('The queue is unavailable (UNAVAILABLE); nothing was charged.'),
        },
      },
      handler: async ({ req, auth }) => {
        await enforce(deps.limits.jobs, auth!.user.id, req.ip, (name) => deps.metrics.rateLimited.inc({ limit: name }));
        const body = readJson(req);
        const job = await submitJob(deps.jobs, auth!.user.id, body);
        return json(202, { job: toPublicJob(job) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/jobs',
      access: 'user',
      doc: {
        summary: 'Your jobs, newest first',
        tags: ['Jobs'],
        parameters: beforePageParams('createdAt'),
        responses: { '200': jsonResponse('Jobs', obj({ jobs: { type: 'array', items: ref('Job') } })), ...BAD_REQUEST, ...UNAUTH },
      },
      handler: async ({ req, auth }) => {
        const before = beforeParam(req);
        const rows = await listJobs(db, auth!.user.id, limitParam(req), before);
        return json(200, { jobs: rows.map(toPublicJob) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/jobs/:id',
      access: 'user',
      doc: { summary: 'One job', tags: ['Jobs'], parameters: [idParam], responses: { '200': jobResp('The job'), ...UNAUTH, ...NOT_FOUND } },
      handler: async ({ params, auth }) => json(200, { job: toPublicJob(await getJob(db, auth!.user.id, params['id'])) }),
    },
    {
      method: 'GET',
      path: '/api/v1/jobs/:id/results',
      access: 'user',
      doc: {
        summary: "A job's results so far",
        description:
          '`format=coco` answers COCO detection JSON (images, one per picture or video frame with `frame_index`; annotations with ' +
          '`bbox` [x, y, w, h], `score`, `track_id`, `classification`; the model labels as categories), `format=csv` one row per object ' +
          '(`file, frame, label, score, x1, y1, x2, y2, classification, classification_score, track_id, zones`), both as downloads. ' +
          'Otherwise JSON: one entry per processed (or failed) file: `objects` for images, `frames` (one per video frame, `{index, objects}`) for videos. ' +
          'With a classifier as the model, `classifications` (top 5) in place of `objects`. Detections carry `classification`, ' +
          '`trackId` (videos, tracking on) and `zones` as the pipeline asked.',
        tags: ['Jobs'],
        parameters: [idParam, { name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'coco', 'csv'], default: 'json' } }],
        responses: {
          '200': { ...jsonResponse('Results', obj({ job: ref('Job'), files: { type: 'array', items: ref('JobFileResult') } })), content: { 'application/json': { schema: obj({ job: ref('Job'), files: { type: 'array', items: ref('JobFileResult') } }) }, 'text/csv': { schema: { type: 'string' } } } },
          ...BAD_REQUEST,
          ...UNAUTH,
          ...NOT_FOUND,
        },
      },
      handler: async ({ req, params, auth }) => {
        const job = await getJob(db, auth!.user.id, params['id']);
        const format = req.query.get('format') || 'json';
        if (format !== 'json' && format !== 'coco' && format !== 'csv') throw new AppError('VALIDATION_FAILED', 'format: json (default), coco or csv.');
        const rows = await db.selectFrom('job_files').selectAll().where('job_id', '=', job.id).where('state', '!=', 'pending').orderBy('position').execute();
        if (format !== 'json') {
          const done = rows.filter((f) => f.state === 'done').map((f) => ({ name: f.name, kind: f.kind, width: f.width, height: f.height, results: f.results }));
          const base = `job-${job.id}`;
          if (format === 'csv') {
            return { status: 200, headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${base}.csv"` }, body: toCsv(done) };
          }
          const labels = deps.engine.list().find((m) => m.name === job.model)?.labels ?? [];
          return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'content-disposition': `attachment; filename="${base}.coco.json"` }, body: JSON.stringify(toCoco(job, labels, done)) };
        }
        const files = rows.map((f) => ({
          fileId: f.file_id,
          name: f.name,
          kind: f.kind,
          ...(f.state === 'done' ? (f.kind === 'image' ? (Array.isArray(f.results) ? { objects: f.results } : (f.results as object)) : { frames: f.results }) : {}),
          annotatedUrl: f.annotated_key ? annotatedUrl(job.id, f.file_id) : null,
          ...(f.error ? { error: f.error } : {}),
        }));
        return json(200, { job: toPublicJob(job), files });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/jobs/:id',
      access: 'user',
      doc: {
        summary: 'Cancel a queued or running job, or purge a finished one',
        description:
          'Without `purge`: cancels; unprocessed items are not charged and the unspent reservation is returned at once. With ' +
          '`purge=true` on a finished job: the job, its results and its annotated files are deleted (204); the ledger keeps its charges.',
        tags: ['Jobs'],
        parameters: [idParam, { name: 'purge', in: 'query', schema: { type: 'boolean' } }],
        responses: {
          '202': jobResp('Cancelled'),
          '204': { description: 'Purged' },
          ...BAD_REQUEST,
          ...UNAUTH,
          ...NOT_FOUND,
          '409': errorResp('Cancel: the job has already finished. Purge: the job is still queued or running (CONFLICT).'),
        },
      },
      handler: async ({ req, params, auth }) => {
        const purge = req.query.get('purge');
        if (purge !== null && purge !== 'true' && purge !== 'false') throw new AppError('VALIDATION_FAILED', 'purge: true or false.');
        if (purge === 'true') {
          await purgeJob(db, config.dataDir, auth!.user.id, params['id']);
          return noContent();
        }
        return json(202, { job: toPublicJob(await cancelJob(deps.jobs, auth!.user.id, params['id'])) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/jobs/:id/files/:fileId/annotated',
      access: 'user',
      doc: {
        summary: 'The annotated output of one file',
        description: 'JPEG for images, H.264 MP4 for videos (byte ranges supported). Owner only.',
        tags: ['Jobs'],
        parameters: [idParam, { name: 'fileId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'The output', content: { 'image/jpeg': {}, 'video/mp4': {} } }, '206': 'A byte range of it', ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ req, params, auth }) => {
        const job = await getJob(db, auth!.user.id, params['id']);
        const fileId = params['fileId'];
        const f = isId(fileId)
          ? await db.selectFrom('job_files').select(['annotated_key', 'kind']).where('job_id', '=', job.id).where('file_id', '=', fileId).where('state', '=', 'done').executeTakeFirst()
          : undefined;
        if (!f?.annotated_key) throw new AppError('NOT_FOUND', 'This file has no annotated output (yet).');
        return sendFile(req, path.join(config.dataDir, f.annotated_key), {
          contentType: f.kind === 'image' ? 'image/jpeg' : 'video/mp4',
          notFound: 'The annotated output is no longer on disk.',
        });
      },
    },
  ];
}
