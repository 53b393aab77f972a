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
  TokenAmount: { type: 'number', minimum: 0, multipleOf: 0.001, description: 'Tokens, at most 3 decimals.' },
  User: obj({
    id: { type: 'string' },
    email: { type: 'string', format: 'email' },
    role: { type: 'string', enum: ['user', 'admin'] },
    balance: ref('TokenAmount'),
    createdAt: { type: 'string', format: 'date-time' },
  }),
  Credentials: obj({
    email: { type: 'string', format: 'email', maxLength: 254 },
    password: { type: 'string', minLength: 8, maxLength: 256 },
  }),
  LedgerEntry: obj({
    id: { type: 'string' },
    amount: { type: 'number', description: 'Signed: positive credits, negative debits.' },
    balanceAfter: ref('TokenAmount'),
    reason: { type: 'string', enum: ['initial', 'top_up', 'charge', 'reserve', 'refund'] },
    ref: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
  }),
  Model: obj({
    name: { type: 'string' },
    family: { type: 'string', enum: ['blazeface', 'nanodet', 'yolo'] },
    inputSize: { type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2 },
    labels: { type: 'array', items: { type: 'string' } },
    default: { type: 'boolean' },
  }),
  Detection: obj({
    label: { type: 'string' },
    classId: { type: 'integer' },
    score: { type: 'number' },
    box: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4, description: '[x1, y1, x2, y2] in source pixels' },
  }),
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
    },
    ['id', 'model', 'codec', 'width', 'height', 'state', 'startedAt', 'framesIn', 'framesProcessed', 'framesDropped', 'latencyMs', 'tokensCharged', 'hasRecording'],
  ),
};

export const UNAUTH = { '401': errorResp('Not signed in (UNAUTHENTICATED).') };
export const ADMIN_ONLY = { ...UNAUTH, '403': errorResp('Not an administrator (FORBIDDEN).') };
export const BAD_REQUEST = { '400': errorResp('Invalid input (VALIDATION_FAILED) or malformed JSON.') };
