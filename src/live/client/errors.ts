/**
 * What a live client throws: the server's `{code, message}` (from an HTTP error body or a WebSocket
 * `error` message), or a code of the client's own for failures the server did not describe.
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';
  constructor(
    /** The server's SCREAMING_SNAKE code, or the client's own (CONNECTION_FAILED, DISCONNECTED, FFMPEG_FAILED, TIMEOUT). */
    readonly code: string,
    message: string,
    /** The HTTP status, when the error came from an HTTP answer. */
    readonly status?: number,
  ) {
    super(message);
  }
}

function serverError(body: unknown): { code: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const e = body.error;
  if (typeof e !== 'object' || e === null || !('code' in e) || !('message' in e)) return undefined;
  return typeof e.code === 'string' && typeof e.message === 'string' ? { code: e.code, message: e.message } : undefined;
}

/** An HTTP answer that is not the expected success → StreamError with the server's code and message. */
export async function errorFromResponse(res: Response, what: string): Promise<StreamError> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const e = serverError(body);
  if (e) return new StreamError(e.code, e.message, res.status);
  return new StreamError(`HTTP_${res.status}`, `${what}: HTTP ${res.status}${text ? ` ${text.slice(0, 200)}` : ''}`, res.status);
}
