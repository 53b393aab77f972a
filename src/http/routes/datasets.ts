/** Datasets and uploads (contract: "Datasets and uploads"). Every lookup is scoped to the caller: others' answer 404. */
import { enforce } from '../../accounts/rate-limit.js';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createDataset, getDataset, listDatasets, listFiles, toPublicFile, updateDataset, validName, validTags } from '../../datasets/repo.js';
import { deleteDataset, deleteFile, getFile, MIME } from '../../datasets/service.js';
import { storeUpload } from '../../datasets/upload.js';
import { AppError } from '../../errors.js';
import type { AppDeps } from '../deps.js';
import { json, noContent, readJson, sendFile } from '../respond.js';
import { BAD_REQUEST, errorResp, jsonBody, jsonResponse, obj, ref, UNAUTH } from '../schemas.js';
import type { Route } from '../types.js';

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const fileParam = { name: 'fileId', in: 'path', required: true, schema: { type: 'string' } };
const NOT_FOUND = { '404': errorResp('No such dataset (or file) of yours (NOT_FOUND).') };
const datasetResp = (d: string): Record<string, unknown> => jsonResponse(d, obj({ dataset: ref('Dataset') }));

export function datasetRoutes(deps: AppDeps): Route[] {
  const { db, config, logger } = deps;
  return [
    {
      method: 'GET',
      path: '/api/v1/datasets',
      access: 'user',
      doc: { summary: 'Your datasets, newest first', tags: ['Datasets'], responses: { '200': jsonResponse('Datasets', obj({ datasets: { type: 'array', items: ref('Dataset') } })), ...UNAUTH } },
      handler: async ({ auth }) => json(200, { datasets: await listDatasets(db, auth!.user.id) }),
    },
    {
      method: 'POST',
      path: '/api/v1/datasets',
      access: 'user',
      doc: {
        summary: 'Create a dataset',
        tags: ['Datasets'],
        requestBody: jsonBody(obj({ name: { type: 'string', minLength: 1, maxLength: 100 }, tags: { type: 'array', items: { type: 'string' } } }, ['name'])),
        responses: { '201': datasetResp('Created'), ...BAD_REQUEST, ...UNAUTH, '409': errorResp('You already have a dataset with that name (CONFLICT).') },
      },
      handler: async ({ req, auth }) => {
        const body = readJson(req);
        const dataset = await createDataset(db, auth!.user.id, randomUUID(), validName(body['name']), body['tags'] === undefined ? [] : validTags(body['tags']));
        return json(201, { dataset });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/datasets/:id',
      access: 'user',
      doc: {
        summary: 'A dataset and its files',
        tags: ['Datasets'],
        parameters: [idParam],
        responses: { '200': jsonResponse('The dataset', obj({ dataset: ref('Dataset'), files: { type: 'array', items: ref('DatasetFile') } })), ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ params, auth }) => {
        const dataset = await getDataset(db, auth!.user.id, params['id']);
        return json(200, { dataset, files: (await listFiles(db, dataset.id)).map(toPublicFile) });
      },
    },
    {
      method: 'PATCH',
      path: '/api/v1/datasets/:id',
      access: 'user',
      doc: {
        summary: 'Rename or re-tag a dataset',
        tags: ['Datasets'],
        parameters: [idParam],
        requestBody: jsonBody(obj({ name: { type: 'string', minLength: 1, maxLength: 100 }, tags: { type: 'array', items: { type: 'string' } } }, [])),
        responses: { '200': datasetResp('Updated'), ...BAD_REQUEST, ...UNAUTH, ...NOT_FOUND, '409': errorResp('You already have a dataset with that name (CONFLICT).') },
      },
      handler: async ({ req, params, auth }) => {
        const body = readJson(req);
        const patch = {
          ...(body['name'] !== undefined ? { name: validName(body['name']) } : {}),
          ...(body['tags'] !== undefined ? { tags: validTags(body['tags']) } : {}),
        };
        return json(200, { dataset: await updateDataset(db, auth!.user.id, params['id'], patch) });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/datasets/:id',
      access: 'user',
      doc: {
        summary: 'Delete a dataset and its files',
        description: 'Its files are removed from disk. Jobs already run keep their results and annotated outputs.',
        tags: ['Datasets'],
        parameters: [idParam],
        responses: { '204': 'Deleted', ...UNAUTH, ...NOT_FOUND, '409': errorResp('A job on it is still queued or running (CONFLICT).') },
      },
      handler: async ({ params, auth }) => {
        await deleteDataset(db, config, logger, auth!.user.id, params['id']);
        return noContent();
      },
    },
    {
      method: 'POST',
      path: '/api/v1/datasets/:id/files',
      access: 'user',
      streamBody: true,
      doc: {
        summary: 'Upload an image, a video or a zip of those',
        description:
          'multipart/form-data with the file in the field `file`. The type is decided from the content: JPEG, PNG, WebP; ' +
          'MP4, MOV, WebM, Matroska, AVI; or a zip holding those (folders are fine; no nested archives, links or unsafe paths). ' +
          `Limits: UPLOAD_MAX_BYTES (413 as soon as it is crossed), IMAGE_MAX_PIXELS, VIDEO_MAX_FRAMES, VIDEO_MAX_PIXELS, ` +
          'ZIP_MAX_ENTRIES, ZIP_MAX_BYTES, ZIP_MAX_RATIO. A refused upload leaves nothing behind.',
        tags: ['Datasets'],
        parameters: [idParam],
        requestBody: { required: true, content: { 'multipart/form-data': { schema: obj({ file: { type: 'string', format: 'binary' } }) } } },
        responses: {
          '201': jsonResponse('Stored', obj({ files: { type: 'array', items: ref('DatasetFile') }, dataset: ref('Dataset') })),
          '400': errorResp('Malformed multipart body, unsafe zip (paths, links, nested archives), empty zip (VALIDATION_FAILED).'),
          ...UNAUTH,
          ...NOT_FOUND,
          '413': errorResp('Over a size, pixel, frame, entry or unpacked-bytes limit, or a zip bomb (PAYLOAD_TOO_LARGE).'),
          '415': errorResp('Not a supported image, video or zip, or a damaged/truncated one (UNSUPPORTED_MEDIA).'),
          '429': errorResp('Too many uploads from this user or address (RATE_LIMITED); see Retry-After.'),
        },
      },
      handler: async ({ req, params, auth }) => {
        const userId = auth!.user.id;
        await enforce(deps.limits.uploads, userId, req.ip, (name) => deps.metrics.rateLimited.inc({ limit: name }));
        const dataset = await getDataset(db, userId, params['id']);
        if (!req.bodyStream) throw new AppError('INTERNAL', 'Upload route without a body stream.');
        const ids = await storeUpload({ db, config, ffprobePath: deps.ffprobePath }, userId, dataset.id, req.bodyStream, req.headers);
        const files = (await listFiles(db, dataset.id)).filter((f) => ids.includes(f.id));
        files.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id));
        return json(201, { files: files.map(toPublicFile), dataset: await getDataset(db, userId, dataset.id) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/datasets/:id/files/:fileId',
      access: 'user',
      doc: { summary: 'One file of a dataset', tags: ['Datasets'], parameters: [idParam, fileParam], responses: { '200': jsonResponse('The file', obj({ file: ref('DatasetFile') })), ...UNAUTH, ...NOT_FOUND } },
      handler: async ({ params, auth }) => json(200, { file: toPublicFile(await getFile(db, auth!.user.id, params['id'], params['fileId'])) }),
    },
    {
      method: 'GET',
      path: '/api/v1/datasets/:id/files/:fileId/content',
      access: 'user',
      doc: {
        summary: 'Download a file as uploaded',
        description: 'Single byte ranges are supported (videos play in a browser). Owner only.',
        tags: ['Datasets'],
        parameters: [idParam, fileParam],
        responses: { '200': 'The bytes', '206': 'A byte range of them', ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ req, params, auth }) => {
        const f = await getFile(db, auth!.user.id, params['id'], params['fileId']);
        return sendFile(req, path.join(config.dataDir, f.storage_key), { contentType: MIME[f.format] ?? 'application/octet-stream', notFound: 'The file is no longer on disk.' });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/datasets/:id/files/:fileId',
      access: 'user',
      doc: { summary: 'Delete one file of a dataset', tags: ['Datasets'], parameters: [idParam, fileParam], responses: { '204': 'Deleted', ...UNAUTH, ...NOT_FOUND, '409': errorResp('A queued or running job uses it (CONFLICT).') } },
      handler: async ({ params, auth }) => {
        await deleteFile(db, config, auth!.user.id, params['id'], params['fileId']);
        return noContent();
      },
    },
  ];
}
