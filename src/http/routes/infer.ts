/**
 * One-call inference: POST /api/v1/infer (Lookout's own answer) and POST /v1/vision/detection (Deepstack's, for
 * NVR software such as Frigate). Both read a few images from the body, run them through one detector and charge
 * each processed image like a job item (infer/service.ts).
 */
import { keySocketId, validateApiKey } from '../../accounts/api-keys.js';
import { AppError, isAppError } from '../../errors.js';
import { readInferBody } from '../../infer/body.js';
import { inferImages } from '../../infer/service.js';
import { annotate } from '../../media/annotate.js';
import { specFromQuery } from '../../pipeline/spec.js';
import type { AppDeps } from '../deps.js';
import { json } from '../respond.js';
import { BAD_REQUEST, errorResp, jsonResponse, obj, pipelineQueryParams, ref, UNAUTH } from '../schemas.js';
import type { HttpRequest, HttpResponse, Route } from '../types.js';

/** Images in one request. */
export const MAX_INFER_IMAGES = 16;

export function inferRoutes(deps: AppDeps): Route[] {
  const { config } = deps;
  return [
    {
      method: 'POST',
      path: '/api/v1/infer',
      access: 'user',
      streamBody: true,
      doc: {
        summary: 'Detect objects in one or more images, in one call',
        description:
          'Body: the image itself (`image/jpeg`, `image/png`, `image/webp`), or multipart/form-data with up to ' +
          `${MAX_INFER_IMAGES} \`image\` fields. Each image that is processed is charged once at the image price; one that cannot ` +
          'be read gets an `error` in its slot and costs nothing. With `annotate=true` and `Accept: image/jpeg`, one image ' +
          'comes back as a JPEG with the boxes drawn. At most INFER_CONCURRENCY requests run at once (503 with Retry-After past it).',
        tags: ['Inference'],
        parameters: pipelineQueryParams('A detector (default: the default model), or a classifier: then each result has the top-5 `classifications` instead of `objects`', [
          { name: 'annotate', in: 'query', schema: { type: 'boolean' }, description: 'With Accept: image/jpeg and one image: the annotated JPEG' },
        ]),
        requestBody: {
          required: true,
          content: {
            'image/jpeg': { schema: { type: 'string', format: 'binary' } },
            'multipart/form-data': { schema: obj({ image: { type: 'array', items: { type: 'string', format: 'binary' }, maxItems: MAX_INFER_IMAGES } }) },
          },
        },
        responses: {
          '200': {
            ...jsonResponse('One result per image, in order', obj({ results: { type: 'array', items: ref('InferResult') }, tokensCharged: ref('TokenAmount') })),
            content: {
              'application/json': { schema: obj({ results: { type: 'array', items: ref('InferResult') }, tokensCharged: ref('TokenAmount') }) },
              'image/jpeg': { schema: { type: 'string', format: 'binary' } },
            },
          },
          ...BAD_REQUEST,
          ...UNAUTH,
          '402': errorResp('The balance does not cover the images (INSUFFICIENT_TOKENS); nothing is charged.'),
          '404': errorResp('Unknown model (NOT_FOUND). An unknown or wrong-kind `classifier`, or `minScore` outside 0-1, is a 400 naming the field.'),
          '413': errorResp('Larger than INFER_MAX_BYTES (PAYLOAD_TOO_LARGE).'),
          '415': errorResp('The body is not an image or multipart (UNSUPPORTED_MEDIA).'),
          '503': errorResp('Too many inference requests at once (UNAVAILABLE, with Retry-After).'),
        },
      },
      handler: async ({ req, auth }) => {
        const leave = deps.inferGate.enter();
        try {
          const spec = specFromQuery(req.query);
          const annotateRaw = req.query.get('annotate');
          if (annotateRaw !== null && !['true', 'false', '1', '0', ''].includes(annotateRaw)) throw new AppError('VALIDATION_FAILED', 'annotate must be true or false.');
          const wantJpeg = (annotateRaw === 'true' || annotateRaw === '1') && /image\/jpeg/i.test(req.headers['accept'] ?? '');
          const body = await readInferBody(bodyOf(req), req.headers, { maxBytes: config.infer.maxBytes, maxImages: MAX_INFER_IMAGES });
          if (wantJpeg && body.images.length !== 1) throw new AppError('VALIDATION_FAILED', 'An annotated JPEG answer takes exactly one image.');
          const rawImage = !(req.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/');
          const out = await inferImages(deps, { userId: auth!.user.id, requestId: req.id, spec, images: body.images });
          const first = out.results[0];
          // A raw body that is not a readable image is the request's error (nothing was charged).
          if (rawImage && first && 'error' in first) throw new AppError(first.error.code, first.error.message);
          if (wantJpeg && first && 'objects' in first) {
            const jpeg = await annotate(out.frames[0]!, first.objects, 'jpeg');
            return { status: 200, headers: { 'content-type': 'image/jpeg', 'x-tokens-charged': String(out.tokensCharged), 'cache-control': 'no-store' }, body: jpeg };
          }
          return json(200, { results: out.results, tokensCharged: out.tokensCharged });
        } finally {
          leave();
        }
      },
    },
  ];
}

function bodyOf(req: HttpRequest): NonNullable<HttpRequest['bodyStream']> {
  if (!req.bodyStream) throw new AppError('INTERNAL', 'Inference route without a body stream.');
  return req.bodyStream;
}

/** Deepstack's error shape: `{"success": false, "error"}` with a fitting HTTP status. */
function deepstackError(status: number, error: string, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify({ success: false, error }) };
}

const STATUS: Record<string, number> = {
  VALIDATION_FAILED: 400, UNAUTHENTICATED: 401, INSUFFICIENT_TOKENS: 402, FORBIDDEN: 403, NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413, UNSUPPORTED_MEDIA: 415, RATE_LIMITED: 429, UNAVAILABLE: 503,
};
/** Frigate reads at most 20 detections from an answer (and fails on a 21st), best first. */
const DEEPSTACK_MAX_PREDICTIONS = 20;

export function deepstackRoutes(deps: AppDeps): Route[] {
  const { config, db } = deps;
  return [
    {
      method: 'POST',
      path: '/v1/vision/detection',
      access: 'public', // the API key may come in the form, read below
      streamBody: true,
      doc: {
        summary: 'Deepstack-compatible object detection (Frigate, Blue Iris, other NVR software)',
        description:
          'Multipart `image` (one), optional `min_confidence` (default 0.4) and `api_key` form fields. The key may also come ' +
          'as `Authorization: Bearer` or `X-API-Key`. Runs DEEPSTACK_MODEL; charged as one image. Answers ' +
          '`{"success": true, "predictions": [{label, confidence, x_min, y_min, x_max, y_max}], "duration"}` with integer pixel ' +
          'coordinates, best first, at most 20; errors are `{"success": false, "error"}`.',
        tags: ['Inference'],
        requestBody: { required: true, content: { 'multipart/form-data': { schema: obj({ image: { type: 'string', format: 'binary' }, min_confidence: { type: 'number' }, api_key: { type: 'string' } }, ['image']) } } },
        responses: {
          '200': jsonResponse('Detections', ref('DeepstackResponse')),
          '400': jsonResponse('Bad input', ref('DeepstackError')),
          '401': jsonResponse('No or wrong API key', ref('DeepstackError')),
          '402': jsonResponse('Balance too low', ref('DeepstackError')),
          '503': jsonResponse('Too busy; see Retry-After', ref('DeepstackError')),
        },
      },
      handler: async ({ req }) => {
        const started = performance.now();
        let leave: (() => void) | undefined;
        try {
          leave = deps.inferGate.enter();
          const body = await readInferBody(bodyOf(req), req.headers, { maxBytes: config.infer.maxBytes, maxImages: 1 });
          const given = req.headers['x-api-key'] ?? /^Bearer\s+(\S+)$/i.exec(req.headers['authorization'] ?? '')?.[1] ?? body.fields['api_key'] ?? '';
          const key = given ? await validateApiKey(db, given.trim()) : null;
          if (!key) return deepstackError(401, given ? 'Incorrect api key' : 'An API key is required: create one in Lookout (API keys) and set it as api_key.');
          const rawMin = body.fields['min_confidence'];
          const minScore = rawMin === undefined || rawMin === '' ? 0.4 : Number(rawMin);
          if (!Number.isFinite(minScore) || minScore < 0 || minScore > 1) return deepstackError(400, 'min_confidence must be a number from 0 to 1');
          const out = await inferImages(deps, {
            userId: key.user.id,
            requestId: req.id,
            spec: { ...(config.infer.deepstackModel ? { model: config.infer.deepstackModel } : {}), minScore, maxDetections: DEEPSTACK_MAX_PREDICTIONS },
            images: body.images,
          });
          const r = out.results[0]!;
          if ('error' in r) return deepstackError(STATUS[r.error.code] ?? 400, r.error.message);
          if (!('objects' in r)) return deepstackError(400, 'DEEPSTACK_MODEL must be a detector');
          deps.logger.debug({ keyId: keySocketId(key.keyId), objects: r.objects.length }, 'deepstack detection');
          return json(200, {
            success: true,
            predictions: r.objects.map((o) => ({
              label: o.label,
              confidence: o.score,
              x_min: Math.round(o.box[0]),
              y_min: Math.round(o.box[1]),
              x_max: Math.round(o.box[2]),
              y_max: Math.round(o.box[3]),
            })),
            duration: Math.round(performance.now() - started),
          });
        } catch (err) {
          if (!isAppError(err)) throw err;
          const retry = typeof err.details['retryAfterS'] === 'number' ? { 'retry-after': String(err.details['retryAfterS']) } : undefined;
          return deepstackError(STATUS[err.code] ?? 500, err.message, retry);
        } finally {
          leave?.();
        }
      },
    },
  ];
}
