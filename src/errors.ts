/**
 * Errors with a stable, public `code`. The HTTP status (and the WebSocket error code) is chosen from
 * the code in one table at the edge (`statusOf`), so domain code never thinks about HTTP.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  INSUFFICIENT_TOKENS: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra, safe-to-show facts (e.g. `retryAfterS` for RATE_LIMITED). */
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

// Small constructors for the common cases keep call sites short and messages consistent.
export const validation = (message: string): AppError => new AppError('VALIDATION_FAILED', message);
export const notFound = (what: string): AppError => new AppError('NOT_FOUND', `${what} not found.`);
export const conflict = (message: string): AppError => new AppError('CONFLICT', message);
export const unsupportedMedia = (message: string): AppError => new AppError('UNSUPPORTED_MEDIA', message);
