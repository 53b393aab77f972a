// The public REST API, as the browser uses it: the HttpOnly session cookie authenticates every call.

/** An error the API answered with (`{error: {code, message}}`), or one reaching it. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const BASE = '/api/v1';
/** @type {Set<(err: ApiError) => void>} */
const unauthenticatedListeners = new Set();

/** Called when a request finds the session gone (expired, or signed out elsewhere). */
export function onUnauthenticated(fn) {
  unauthenticatedListeners.add(fn);
}

/** @param {number} status @param {string} text */
function errorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error && typeof body.error.message === 'string') {
      return new ApiError(status, String(body.error.code || 'INTERNAL'), body.error.message);
    }
  } catch {
    // not JSON: a proxy's error page, say
  }
  return new ApiError(status, status >= 500 ? 'UNAVAILABLE' : 'INTERNAL', `The server answered ${status} without an explanation.`);
}

/**
 * Calls the API; resolves to the parsed JSON body (null for 204), rejects with ApiError.
 * @param {string} method @param {string} path @param {unknown} [body]
 * @param {{headers?: Record<string, string>, quietAuth?: boolean}} [opts]
 */
export async function api(method, path, body, opts = {}) {
  const headers = { accept: 'application/json', ...opts.headers };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'Cannot reach the server. Check your connection and try again.');
  }
  const text = await res.text();
  if (!res.ok) {
    const err = errorFrom(res.status, text);
    if (res.status === 401 && !opts.quietAuth) for (const fn of unauthenticatedListeners) fn(err);
    throw err;
  }
  return text ? JSON.parse(text) : null;
}

/**
 * Uploads one file as multipart field `file`, reporting progress; XHR because fetch has no upload progress.
 * @param {string} path @param {File} file
 * @param {(sent: number, total: number) => void} onProgress
 * @returns {{promise: Promise<any>, abort: () => void}}
 */
export function upload(path, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', BASE + path);
    xhr.setRequestHeader('accept', 'application/json');
    xhr.withCredentials = true;
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, 'INTERNAL', 'The server sent an answer this page cannot read.'));
        }
        return;
      }
      const err = errorFrom(xhr.status, xhr.responseText);
      if (xhr.status === 401) for (const fn of unauthenticatedListeners) fn(err);
      reject(err);
    };
    // A server that refuses a large body early (413) may close the connection before the browser reads
    // the answer: the browser then reports a network error.
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload was interrupted: the connection closed. If the file is large, it may be over the server\'s upload limit.'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'Upload cancelled.'));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
