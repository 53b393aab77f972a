/** Reusable OpenAPI 3.1 fragments for route docs. */
export const ref = (name: string): Record<string, unknown> => ({ $ref: `#/components/schemas/${name}` });

export const jsonBody = (schema: Record<string, unknown>, description?: string): Record<string, unknown> => ({
  required: true,
  ...(description ? { description } : {}),
  content: { 'application/json': { schema } },
});

export const jsonResponse = (description: string, schema: Record<string, unknown>): Record<string, unknown> => ({
  description,
  content: { 'application/json': { schema } },
});

export const obj = (properties: Record<string, unknown>, required = Object.keys(properties)): Record<string, unknown> => ({
  type: 'object',
  properties,
  required,
});

export const errorResp = (description: string): Record<string, unknown> => jsonResponse(description, ref('Error'));

/** The contract's `user`; the admin's view adds `disabled` and `lastLoginAt`. */
const USER_FIELDS = {
  id: { type: 'string' },
  email: { type: 'string', format: 'email' },
  role: { type: 'string', enum: ['user', 'admin'] },
  balance: ref('TokenAmount'),
  createdAt: { type: 'string', format: 'date-time' },
};

/** The answer of a top-up and of an adjustment, and their 404. */
export const BALANCE_CHANGED = {
  answer: obj({ email: { type: 'string' }, balance: ref('TokenAmount') }),
  noUser: { '404': errorResp('No user with that email (NOT_FOUND).') },
};

export const COMPONENT_SCHEMAS: Record<string, unknown> = {
  Error: obj({
    error: obj({
      code: {
        type: 'string',
        enum: [
          'VALIDATION_FAILED', 'UNAUTHENTICATED', 'INSUFFICIENT_TOKENS', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT',
          'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA', 'RATE_LIMITED', 'INTERNAL', 'UNAVAILABLE',
        ],
      },
      message: { type: 'string' },
    }),
  }),
  InferResult: {
    oneOf: [
      obj(
        {
          name: { type: 'string' },
          width: { type: 'integer' },
          height: { type: 'integer' },
          objects: { type: 'array', items: { $ref: '#/components/schemas/Detection' } },
          timings: { type: 'object', additionalProperties: { type: 'number' } },
        },
        ['width', 'height', 'objects', 'timings'],
      ),
      obj(
        {
          name: { type: 'string' },
          width: { type: 'integer' },
          height: { type: 'integer' },
          classifications: { type: 'array', maxItems: 5, items: { $ref: '#/components/schemas/LabelScore' }, description: 'With a classifier as the model: the top 5, best first' },
          timings: { type: 'object', additionalProperties: { type: 'number' } },
        },
        ['width', 'height', 'classifications', 'timings'],
      ),
      obj({ name: { type: 'string' }, error: obj({ code: { type: 'string' }, message: { type: 'string' } }) }, ['error']),
    ],
  },
  DeepstackResponse: obj({
    success: { type: 'boolean', const: true },
    predictions: {
      type: 'array',
      maxItems: 20,
      items: obj({ label: { type: 'string' }, confidence: { type: 'number' }, x_min: { type: 'integer' }, y_min: { type: 'integer' }, x_max: { type: 'integer' }, y_max: { type: 'integer' } }),
    },
    duration: { type: 'integer', description: 'Milliseconds' },
  }),
  DeepstackError: obj({ success: { type: 'boolean', const: false }, error: { type: 'string' } }),
  ApiKey: obj(
    {
      id: { type: 'string' },
      name: { type: 'string' },
      prefix: { type: 'string', description: 'The first characters of the key, e.g. lk_ab12cd' },
      createdAt: { type: 'string', format: 'date-time' },
      expiresAt: { type: 'string', format: 'date-time' },
      lastUsedAt: { type: 'string', format: 'date-time', description: 'Updated at most once a minute' },
    },
    ['id', 'name', 'prefix', 'createdAt'],
  ),
  Webhook: obj(
    {
      id: { type: 'string' },
      url: { type: 'string', format: 'uri', maxLength: 2048 },
      events: { type: 'array', items: { type: 'string', enum: ['job.completed', 'job.failed', 'live.ended', 'live.track', 'live.zone', 'balance.low'] } },
      description: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      enabled: { type: 'boolean', description: 'False once disabled after sustained failure (see disabledReason) or by its owner' },
      disabledAt: { type: 'string', format: 'date-time' },
      disabledReason: { type: 'string' },
    },
    ['id', 'url', 'events', 'createdAt', 'enabled'],
  ),
  WebhookDelivery: obj(
    {
      id: { type: 'string', description: 'msg_…: the webhook-id header, the same on every attempt' },
      event: { type: 'string' },
      status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
      attempts: { type: 'integer' },
      lastStatusCode: { type: 'integer' },
      lastError: { type: 'string' },
      lastAttemptAt: { type: 'string', format: 'date-time' },
      createdAt: { type: 'string', format: 'date-time' },
    },
    ['id', 'event', 'status', 'attempts', 'createdAt'],
  ),
  StoredFrame: obj({
    t: { type: 'number', description: 'Milliseconds since the session\'s first frame, on the video clock: the recording\'s time' },
    frame: { type: 'integer' },
    rtpTimestamp: { type: 'integer' },
    objects: { type: 'array', items: { $ref: '#/components/schemas/Detection' } },
  }),
  TokenAmount: { type: 'number', minimum: 0, multipleOf: 0.001, description: 'Tokens, at most 3 decimals.' },
  User: obj(USER_FIELDS),
  Credentials: obj({
    email: { type: 'string', format: 'email', maxLength: 254 },
    password: { type: 'string', minLength: 8, maxLength: 256 },
  }),
  LedgerEntry: obj(
    {
      id: { type: 'string' },
      amount: { type: 'number', description: 'Signed: positive credits, negative debits.' },
      balanceAfter: ref('TokenAmount'),
      reason: { type: 'string', enum: ['initial', 'top_up', 'adjustment', 'account_deleted', 'charge', 'reserve', 'refund'] },
      ref: { type: ['string', 'null'] },
      note: { type: 'string', description: "An adjustment's reason, as the admin gave it." },
      createdAt: { type: 'string', format: 'date-time' },
    },
    ['id', 'amount', 'balanceAfter', 'reason', 'ref', 'createdAt'],
  ),
  AdminUser: obj({
    ...USER_FIELDS,
    disabled: { type: 'boolean' },
    lastLoginAt: { type: ['string', 'null'], format: 'date-time' },
  }),
  AuditEntry: obj({
    id: { type: 'string' },
    actor: { type: 'string', description: "The admin's (or user's) email, `cli:<os user>` for the admin command, or `server`." },
    action: {
      type: 'string',
      enum: ['user.role_changed', 'user.disabled', 'user.enabled', 'user.deleted', 'tokens.top_up', 'tokens.adjusted', 'invite.created', 'invite.used', 'login.failed_burst', 'api_key.created', 'api_key.revoked'],
    },
    target: { type: ['string', 'null'], description: 'The email acted on ("deleted user" once deleted).' },
    detail: { type: 'object' },
    createdAt: { type: 'string', format: 'date-time' },
  }),
  Model: obj({
    name: { type: 'string' },
    kind: { type: 'string', enum: ['detector', 'classifier'] },
    family: { type: 'string', enum: ['blazeface', 'nanodet', 'yolo', 'classifier'] },
    inputSize: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 },
    labels: { type: 'array', items: { type: 'string' } },
    default: { type: 'boolean' },
  }),
  Detection: obj({
    label: { type: 'string' },
    classId: { type: 'integer' },
    score: { type: 'number' },
    box: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4, description: '[x1, y1, x2, y2] in source pixels' },
    classification: {
      ...obj({ label: { type: 'string' }, score: { type: 'number' }, top: { type: 'array', maxItems: 5, items: { $ref: '#/components/schemas/LabelScore' } } }),
      description: "The classifier stage's answer for this detection's crop (with `classifier`)",
    },
    trackId: { type: 'integer', description: 'Stable for one object within one live session or video (tracking on)' },
    zones: { type: 'array', items: { type: 'string' }, description: "The zones the box's bottom-centre point is in (with `zones`)" },
  }),
  LabelScore: obj({ label: { type: 'string' }, score: { type: 'number' } }),
  Zone: obj(
    {
      name: { type: 'string', maxLength: 64 },
      polygon: { type: 'array', minItems: 3, maxItems: 64, items: { type: 'array', items: { type: 'number', minimum: 0, maximum: 1 }, minItems: 2, maxItems: 2 } },
      mode: { type: 'string', enum: ['include', 'exclude'], default: 'include' },
    },
    ['name', 'polygon'],
  ),
  LiveSession: obj(
    {
      id: { type: 'string' },
      model: { type: 'string' },
      codec: { type: ['string', 'null'], enum: ['vp8', 'h264', null], description: 'null until the first frame arrives' },
      width: { type: ['integer', 'null'] },
      height: { type: ['integer', 'null'] },
      state: { type: 'string', enum: ['live', 'ended'] },
      endReason: { type: 'string', enum: ['stopped', 'disconnected', 'insufficient_tokens', 'error'] },
      startedAt: { type: 'string', format: 'date-time' },
      endedAt: { type: 'string', format: 'date-time' },
      framesIn: { type: 'integer' },
      framesProcessed: { type: 'integer' },
      framesDropped: { type: 'integer' },
      droppedStale: { type: 'integer', description: 'Replaced by a newer frame before the detector was free' },
      droppedLate: { type: 'integer', description: 'Older than the budget when the detector could start' },
      budgetMs: { type: 'integer' },
      via: { type: 'string', enum: ['ws', 'whip'] },
      latencyMs: obj({ p50: { type: ['number', 'null'] }, p95: { type: ['number', 'null'] }, p99: { type: ['number', 'null'] } }),
      tokensCharged: ref('TokenAmount'),
      hasRecording: { type: 'boolean' },
      pipeline: { type: 'object', description: 'The pipeline it started with (classifier, classes, minScore, maxDetections, zones, track)' },
      counts: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Tracks started per label (tracking on)' },
    },
    ['id', 'model', 'codec', 'width', 'height', 'state', 'startedAt', 'framesIn', 'framesProcessed', 'framesDropped', 'latencyMs', 'tokensCharged', 'hasRecording'],
  ),
  Dataset: obj({
    id: { type: 'string' },
    name: { type: 'string', minLength: 1, maxLength: 100 },
    tags: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 40 }, maxItems: 20 },
    fileCount: { type: 'integer' },
    tokenCost: { ...ref('TokenAmount'), description: 'What a job over every file costs now' },
    createdAt: { type: 'string', format: 'date-time' },
  }),
  DatasetFile: obj({
    id: { type: 'string' },
    name: { type: 'string', description: 'The uploaded name, or the path inside the zip' },
    kind: { type: 'string', enum: ['image', 'video'] },
    width: { type: 'integer' },
    height: { type: 'integer' },
    frames: { type: 'integer', description: '1 for an image; the exact frame count of a video' },
    tokenCost: ref('TokenAmount'),
  }),
  Job: obj(
    {
      id: { type: 'string' },
      datasetId: { type: ['string', 'null'], description: 'null once the dataset is deleted' },
      model: { type: 'string' },
      pipeline: { type: 'object', description: 'The pipeline fields it was submitted with (classifier, classes, minScore, maxDetections, zones, track)' },
      state: { type: 'string', enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] },
      progress: obj({ done: { type: 'integer', description: 'Images and video frames processed' }, total: { type: 'integer' } }),
      tokenCost: { ...ref('TokenAmount'), description: 'Reserved at submission' },
      tokensCharged: { ...ref('TokenAmount'), description: 'Spent so far; the rest is returned when the job ends' },
      error: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      startedAt: { type: 'string', format: 'date-time' },
      finishedAt: { type: 'string', format: 'date-time' },
    },
    ['id', 'datasetId', 'model', 'state', 'progress', 'tokenCost', 'tokensCharged', 'createdAt'],
  ),
  JobFileResult: obj(
    {
      fileId: { type: 'string' },
      name: { type: 'string' },
      kind: { type: 'string', enum: ['image', 'video'] },
      objects: { type: 'array', items: ref('Detection'), description: 'Images' },
      classifications: { type: 'array', items: ref('LabelScore'), maxItems: 5, description: 'Images, with a classifier as the model: the top 5' },
      frames: {
        type: 'array',
        items: obj({ index: { type: 'integer' }, objects: { type: 'array', items: ref('Detection') }, classifications: { type: 'array', items: ref('LabelScore') } }),
        description: 'Videos, one entry per frame (`classifications` with a classifier as the model)',
      },
      annotatedUrl: { type: ['string', 'null'], description: 'The image (JPEG) or video (H.264 MP4) with labelled boxes; owner only' },
      error: { type: 'string', description: 'Why this file could not be processed (it was not charged)' },
    },
    ['fileId', 'name', 'kind', 'annotatedUrl'],
  ),
};

export const UNAUTH = { '401': errorResp('Not signed in (UNAUTHENTICATED).') };
export const ADMIN_ONLY = { ...UNAUTH, '403': errorResp('Not an administrator (FORBIDDEN).') };
export const BAD_REQUEST = { '400': errorResp('Invalid input (VALIDATION_FAILED) or malformed JSON.') };

/** The query parameters of a newest-first page: `limit`, and `before` = the `field` of the previous page's last item. */
export const beforePageParams = (field: string): Record<string, unknown>[] => [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
  { name: 'before', in: 'query', schema: { type: 'string', format: 'date-time' }, description: `${field} of the last item of the previous page` },
];

/** The pipeline fields of a JSON body or WS message (API.md "Models and pipelines"). */
export const PIPELINE_FIELDS = {
  model: { type: 'string', description: 'A detector (default: the default model), or a classifier: whole-image classification (top 5 `classifications`)' },
  classifier: { type: 'string', description: "A classifier run on each detection's crop; all crops of a frame in one batch" },
  classifyLabels: { type: 'array', items: { type: 'string' }, maxItems: 100, description: 'Detector labels that get the classifier (default all)' },
  classes: { type: 'array', items: { type: 'string' }, maxItems: 100, description: 'Detector labels to keep' },
  minScore: { type: 'number', minimum: 0, maximum: 1 },
  maxDetections: { type: 'integer', minimum: 1, maximum: 1000 },
  zones: { type: 'array', maxItems: 32, items: { $ref: '#/components/schemas/Zone' } },
  track: { type: 'boolean', description: 'Track objects across frames (`trackId`); default true for videos and live sessions' },
} as const;

/** The pipeline fields of a query string (POST /infer, the WHIP offer): lists comma-separated, no zones. */
export function pipelineQueryParams(model: string, extra: Record<string, unknown>[] = []): Record<string, unknown>[] {
  return [
    { name: 'model', in: 'query', schema: { type: 'string' }, description: model },
    { name: 'classifier', in: 'query', schema: { type: 'string' }, description: "A classifier run on each detection's crop (all crops of an image or frame in one batch); adds `classification` to each detection" },
    { name: 'classifyLabels', in: 'query', schema: { type: 'string' }, description: 'Comma-separated detector labels that get the classifier (default all)' },
    { name: 'classes', in: 'query', schema: { type: 'string' }, description: 'Comma-separated detector labels to keep' },
    { name: 'minScore', in: 'query', schema: { type: 'number', minimum: 0, maximum: 1 } },
    { name: 'maxDetections', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
    ...extra,
  ];
}
