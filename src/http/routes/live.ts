/** WHIP ingest (RFC 9725) and the history of live sessions with their recordings. */
import { enforce } from '../../accounts/rate-limit.js';
import path from 'node:path';
import { AppError } from '../../errors.js';
import { deleteLiveSession } from '../../lifecycle/delete.js';
import { getLiveSession, listLiveSessions, toPublicSession } from '../../live/repo.js';
import { csvStream, ndjsonStream, storedFrames } from '../../live/stored-detections.js';
import { MAX_ICE_CANDIDATES, MAX_ICE_PER_REQUEST, trickleCandidates } from '../../live/sdp.js';
import { specFromQuery } from '../../pipeline/spec.js';
import type { AppDeps } from '../deps.js';
import { beforeParam, json, limitParam, noContent, sendFile } from '../respond.js';
import { BAD_REQUEST, errorResp, jsonResponse, obj, beforePageParams, pipelineQueryParams, ref, UNAUTH } from '../schemas.js';
import type { HttpRequest, HttpResponse, Route } from '../types.js';

const NOT_FOUND = { '404': errorResp('No such session of yours (NOT_FOUND).') };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

function intParam(req: HttpRequest, name: string): number | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,9}$/.test(raw)) throw new AppError('VALIDATION_FAILED', `${name} must be a whole number.`);
  return Number(raw);
}

function boolParam(req: HttpRequest, name: string): boolean | undefined {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new AppError('VALIDATION_FAILED', `${name} must be true or false.`);
}

export function liveRoutes(deps: AppDeps): Route[] {
  const { db, live, config } = deps;
  const quoted = (v: string | undefined): string => `"${(v ?? '').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const iceLinks = config.live.iceServers.map((s) =>
    s.username
      ? `<${s.urls}>; rel="ice-server"; username=${quoted(s.username)}; credential=${quoted(s.credential)}; credential-type="password"`
      : `<${s.urls}>; rel="ice-server"`,
  );
  return [
    {
      method: 'POST',
      path: '/api/v1/whip',
      access: 'user',
      doc: {
        summary: 'Start a live session from a WHIP offer (RFC 9725)',
        description:
          'Body: the SDP offer (`Content-Type: application/sdp`), video in VP8 or H.264. Answers 201 with the SDP answer ' +
          'and `Location: /api/v1/whip/{sessionId}`; DELETE that location to end the session. Watch detections over the ' +
          'WebSocket topic `live:<sessionId>` or on a data channel labelled `detections`.',
        tags: ['Live'],
        parameters: [
          ...pipelineQueryParams('A detector (default: the default detector)', [
            { name: 'track', in: 'query', schema: { type: 'boolean', default: true }, description: 'Track objects (`trackId`, `track` events); zones are set with live.configure' },
          ]),
          { name: 'budgetMs', in: 'query', schema: { type: 'integer', minimum: 5, maximum: 10000 }, description: 'Per-frame latency budget' },
          { name: 'record', in: 'query', schema: { type: 'boolean' }, description: 'Record the stream (default LIVE_RECORD)' },
          { name: 'store', in: 'query', schema: { type: 'boolean', default: true }, description: "Keep the detections (GET /live-sessions/{id}/detections)" },
        ],
        requestBody: { required: true, content: { 'application/sdp': { schema: { type: 'string' } } } },
        responses: {
          '201': {
            description: 'The SDP answer',
            headers: { Location: { schema: { type: 'string' }, description: '/api/v1/whip/{sessionId}' } },
            content: { 'application/sdp': { schema: { type: 'string' } } },
          },
          ...BAD_REQUEST,
          ...UNAUTH,
          '402': errorResp('The balance does not cover a single frame (INSUFFICIENT_TOKENS).'),
          '404': errorResp('Unknown model (NOT_FOUND). A classifier as the model, or an unknown classifier, is a 400 naming the field.'),
          '409': errorResp('You already run the maximum number of live sessions (CONFLICT).'),
          '415': errorResp('The body is not application/sdp (UNSUPPORTED_MEDIA).'),
          '429': errorResp('Too many live sessions started by this user or address (RATE_LIMITED); see Retry-After.'),
          '307': {
            description: 'This server is full or draining and another has room (several servers): repeat the same request at `Location`.',
            headers: { Location: { schema: { type: 'string' }, description: "The other server's PUBLIC_URL + /api/v1/whip, with the same query" } },
          },
          '503': errorResp('Every server runs its maximum number of live sessions, or LIVE_MAX_SESSIONS_TOTAL is reached (UNAVAILABLE, with Retry-After).'),
        },
      },
      handler: async ({ req, auth }): Promise<HttpResponse> => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/sdp') throw new AppError('UNSUPPORTED_MEDIA', 'Send the offer with Content-Type: application/sdp.');
        // This server is full and another has room: the client repeats the same POST there (RFC 9725 allows
        // redirects; the 307 keeps the method and the body).
        if (live.full) {
          const other = await deps.cluster.elsewhere();
          if (other) {
            deps.logger.info({ liveSessions: live.count, draining: live.draining, to: other }, 'live: this server is full; WHIP offer sent elsewhere');
            const location = `${other}/api/v1/whip${req.query.size ? `?${req.query.toString()}` : ''}`;
            return { status: 307, headers: { location, 'cache-control': 'no-store' } };
          }
        }
        await enforce(deps.limits.live, auth!.user.id, req.ip, (name) => deps.metrics.rateLimited.inc({ limit: name }));
        const { session, answer } = await live.start({
          userId: auth!.user.id,
          via: 'whip',
          sdp: req.body.toString('utf8'),
          pipeline: specFromQuery(req.query),
          budgetMs: intParam(req, 'budgetMs'),
          record: boolParam(req, 'record'),
          store: boolParam(req, 'store'),
        });
        return {
          status: 201,
          headers: {
            'content-type': 'application/sdp',
            location: `/api/v1/whip/${session.id}`,
            ...(iceLinks.length ? { link: iceLinks } : {}),
          },
          body: answer,
        };
      },
    },
    {
      method: 'PATCH',
      path: '/api/v1/whip/:id',
      access: 'user',
      doc: {
        summary: 'Trickle ICE candidates to a WHIP session',
        description:
          `Body: an SDP fragment (\`application/trickle-ice-sdpfrag\`) holding \`a=candidate:\` lines: at most ${MAX_ICE_PER_REQUEST} ` +
          `per request and ${MAX_ICE_CANDIDATES} per session (offer included), and at most 20 trickle requests (PATCH and ` +
          'live.ice together) per session in 10 s.',
        tags: ['Live'],
        parameters: [idParam],
        requestBody: { required: true, content: { 'application/trickle-ice-sdpfrag': { schema: { type: 'string' } } } },
        responses: {
          '204': 'Candidates added',
          ...BAD_REQUEST,
          ...UNAUTH,
          ...NOT_FOUND,
          '415': errorResp('Not a trickle-ice-sdpfrag body.'),
          '429': errorResp('Too many trickle requests for this session (RATE_LIMITED); see Retry-After.'),
        },
      },
      handler: async ({ req, params, auth }) => {
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/trickle-ice-sdpfrag') {
          throw new AppError('UNSUPPORTED_MEDIA', 'Send candidates with Content-Type: application/trickle-ice-sdpfrag.');
        }
        await deps.cluster.router.ice(params['id'], auth!.user.id, trickleCandidates(req.body.toString('utf8')));
        return { status: 204 };
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/whip/:id',
      access: 'user',
      doc: {
        summary: 'End a WHIP session',
        tags: ['Live'],
        parameters: [idParam],
        responses: { '200': 'Ended (tokens settled, recording finalised)', ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ params, auth }) => {
        await deps.cluster.router.stop(params['id'], auth!.user.id);
        return { status: 200 };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/live-sessions',
      access: 'user',
      doc: {
        summary: 'Your live sessions, newest first',
        tags: ['Live'],
        parameters: beforePageParams('startedAt'),
        responses: { '200': jsonResponse('Sessions', obj({ sessions: { type: 'array', items: ref('LiveSession') } })), ...BAD_REQUEST, ...UNAUTH },
      },
      handler: async ({ req, auth }) => {
        const limit = limitParam(req);
        const before = beforeParam(req);
        const rows = await listLiveSessions(db, auth!.user.id, limit, before);
        return json(200, { sessions: rows.map(toPublicSession) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/live-sessions/:id',
      access: 'user',
      doc: {
        summary: 'One live session',
        tags: ['Live'],
        parameters: [idParam],
        responses: { '200': jsonResponse('The session', obj({ session: ref('LiveSession') })), ...UNAUTH, ...NOT_FOUND },
      },
      handler: async ({ params, auth }) => {
        const row = await getLiveSession(db, auth!.user.id, params['id']!);
        if (!row) throw new AppError('NOT_FOUND', 'Live session not found.');
        return json(200, { session: toPublicSession(row) });
      },
    },
    {
      method: 'DELETE',
      path: '/api/v1/live-sessions/:id',
      access: 'user',
      doc: {
        summary: 'Delete an ended live session and its recording',
        description: 'The session leaves the history and its recording file is removed. The token ledger keeps its charges.',
        tags: ['Live'],
        parameters: [idParam],
        responses: { '204': { description: 'Deleted' }, ...UNAUTH, ...NOT_FOUND, '409': errorResp('The session is still live (CONFLICT): stop it first.') },
      },
      handler: async ({ params, auth }) => {
        await deleteLiveSession(db, auth!.user.id, params['id']);
        return noContent();
      },
    },
    {
      method: 'GET',
      path: '/api/v1/live-sessions/:id/detections',
      access: 'user',
      doc: {
        summary: "A live session's stored detections",
        description:
          'The objects of every processed frame, in frame order; `t` is milliseconds since the first frame on the video clock, ' +
          'so frame `t` is at `t / 1000` s in the recording. JSON pages (`after` the last frame number of the previous page, ' +
          'given as `next`); `Accept: application/x-ndjson` (or `format=ndjson`) streams every frame as one JSON line, ' +
          '`format=csv` every object as one row (t_ms, frame, rtp_timestamp, label, score, x1, y1, x2, y2, classification, ' +
          'classification_score, track_id, zones). Sessions started with `store: false` have none. Live sessions answer what is stored so far.',
        tags: ['Live'],
        parameters: [
          idParam,
          { name: 'after', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 }, description: 'Frames after this frame number' },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          { name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'ndjson', 'csv'], default: 'json' } },
        ],
        responses: {
          '200': {
            description: 'Frames',
            content: {
              'application/json': { schema: obj({ frames: { type: 'array', items: ref('StoredFrame') }, next: { type: 'string' } }, ['frames']) },
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          ...BAD_REQUEST,
          ...UNAUTH,
          ...NOT_FOUND,
        },
      },
      handler: async ({ req, params, auth }) => {
        const row = await getLiveSession(db, auth!.user.id, params['id']!);
        if (!row) throw new AppError('NOT_FOUND', 'Live session not found.');
        const format = req.query.get('format') || ((req.headers['accept'] ?? '').includes('application/x-ndjson') ? 'ndjson' : 'json');
        if (format === 'ndjson') {
          return { status: 200, headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'private, no-store' }, stream: ndjsonStream(db, row.id) };
        }
        if (format === 'csv') {
          const headers = { 'content-type': 'text/csv; charset=utf-8', 'cache-control': 'private, no-store', 'content-disposition': `attachment; filename="lookout-${row.id}-detections.csv"` };
          return { status: 200, headers, stream: csvStream(db, row.id) };
        }
        if (format !== 'json') throw new AppError('VALIDATION_FAILED', 'format: json (default), ndjson or csv.');
        const after = intParam(req, 'after') ?? 0;
        const limit = limitParam(req, 100, 1000);
        const frames = await storedFrames(db, row.id, after, limit);
        return json(200, { frames, ...(frames.length === limit ? { next: String(frames[frames.length - 1]!.frame) } : {}) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/live-sessions/:id/recording',
      access: 'user',
      doc: {
        summary: "Download a session's recording",
        description: 'WebM (VP8) or Matroska (H.264); single byte ranges are supported. Owner only.',
        tags: ['Live'],
        parameters: [idParam],
        responses: {
          '200': { description: 'The recording', content: { 'video/webm': {}, 'video/x-matroska': {} } },
          '206': 'A byte range of it',
          ...UNAUTH,
          '404': errorResp('No such session of yours, or it has no recording (NOT_FOUND).'),
        },
      },
      handler: async ({ req, params, auth }) => {
        const row = await getLiveSession(db, auth!.user.id, params['id']!);
        const file = row?.recording_path ?? undefined;
        if (!row || !file) throw new AppError('NOT_FOUND', 'This session has no recording.');
        return sendFile(req, file, {
          contentType: file.endsWith('.webm') ? 'video/webm' : 'video/x-matroska',
          notFound: 'This session has no recording.',
          download: `lookout-${row.id}${path.extname(file)}`,
        });
      },
    },
  ];
}
