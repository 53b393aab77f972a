/**
 * Writing a handler's answer to a uWebSockets.js response: status line and headers, then the body whole, as a
 * chunked stream, or as a file range, with backpressure, corked, and never after the client has gone.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type uWS from 'uWebSockets.js';
import type { Logger } from '../log.js';
import type { HttpResponse } from './types.js';

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content', 301: 'Moved Permanently',
  302: 'Found', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required',
  403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type', 416: 'Range Not Satisfiable',
  429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/**
 * Writes the answer (HEAD: headers and the length only); `finish` is told the status once the response is done.
 */
export function writeAnswer(
  res: uWS.HttpResponse,
  answer: HttpResponse,
  id: string,
  method: string,
  isAborted: () => boolean,
  finish: (status: number) => void,
  logger: Logger,
  closeConnection = false,
): void {
  if (isAborted()) return;
  if (answer.file && method !== 'HEAD') {
    streamFile(res, answer, id, isAborted, finish, logger);
    return;
  }
  if (answer.stream && method !== 'HEAD') {
    streamChunked(res, answer, answer.stream, id, isAborted, finish, logger);
    return;
  }
  answer.stream?.destroy();
  res.cork(() => {
    writeHead(res, answer, id);
    if (answer.status === 204 || answer.status === 304) {
      // No Content-Length at all (RFC 9110 §8.6; strict proxies answer 502 otherwise). The library writes one
      // whenever it is given any argument, `undefined` included (as 2^63), so it gets none; a connection to
      // close says so itself.
      if (closeConnection) res.writeHeader('connection', 'close');
      res.endWithoutBody();
    } else if (method === 'HEAD') {
      // The length the GET would have.
      const length = answer.file ? answer.file.end - answer.file.start + 1 : Buffer.byteLength(answer.body ?? '');
      res.endWithoutBody(length, closeConnection);
    } else {
      res.end(answer.body ?? '', closeConnection);
    }
  });
  finish(answer.status);
}

/**
 * Streams a body of unknown length (chunked) with backpressure: the source pauses while uWS cannot take more.
 * A source that fails midway closes the connection, so the client sees a cut answer, not a complete one.
 */
function streamChunked(res: uWS.HttpResponse, answer: HttpResponse, source: Readable, id: string, isAborted: () => boolean, finish: (status: number) => void, logger: Logger): void {
  res.cork(() => writeHead(res, answer, id));
  let finished = false;
  const done = (status: number): void => {
    if (finished) return;
    finished = true;
    source.destroy();
    finish(status);
  };
  source.on('data', (data: string | Buffer) => {
    if (isAborted()) {
      done(answer.status);
      return;
    }
    let ok = true;
    res.cork(() => {
      ok = res.write(data);
    });
    if (!ok) {
      source.pause();
      // A client gone while the source waits gets no onWritable: look now and then, and let the source go.
      const watch = setInterval(() => {
        if (!isAborted()) return;
        clearInterval(watch);
        done(answer.status);
      }, 1000);
      res.onWritable(() => {
        clearInterval(watch);
        if (!isAborted()) source.resume();
        return true;
      });
    }
  });
  source.on('end', () => {
    if (!isAborted()) res.cork(() => res.end());
    done(answer.status);
  });
  source.on('error', (err) => {
    logger.error({ err, reqId: id }, 'streamed answer failed');
    if (!isAborted()) res.cork(() => res.close());
    done(500);
  });
}

/** Streams a file range with backpressure: pause the read stream while uWS cannot take more. */
function streamFile(res: uWS.HttpResponse, answer: HttpResponse, id: string, isAborted: () => boolean, finish: (status: number) => void, logger: Logger): void {
  const { path, start, end } = answer.file!;
  const total = end - start + 1;
  if (total <= 0) {
    res.cork(() => {
      writeHead(res, answer, id);
      res.end();
    });
    finish(answer.status);
    return;
  }
  const stream = createReadStream(path, { start, end, highWaterMark: 256 * 1024 });
  let headWritten = false;
  const done = (): void => {
    stream.destroy();
    finish(answer.status);
  };
  stream.on('data', (data) => {
    const chunk = data as Buffer;
    if (isAborted()) {
      done();
      return;
    }
    let ok = false;
    let sent = false;
    const before = res.getWriteOffset();
    res.cork(() => {
      if (!headWritten) {
        writeHead(res, answer, id);
        headWritten = true;
      }
      [ok, sent] = res.tryEnd(chunk, total);
    });
    if (sent) {
      done();
    } else if (!ok) {
      stream.pause();
      res.onWritable((offset) => {
        if (isAborted()) return true;
        let ok2 = false;
        let sent2 = false;
        res.cork(() => {
          [ok2, sent2] = res.tryEnd(chunk.subarray(offset - before), total);
        });
        if (sent2) done();
        else if (ok2) stream.resume();
        return ok2;
      });
    }
  });
  stream.on('error', (err) => {
    logger.error({ err, reqId: id, path }, 'file stream failed');
    if (!isAborted()) res.cork(() => res.close());
    finish(500);
  });
}

/** Writes the status line and headers; call inside cork. */
function writeHead(res: uWS.HttpResponse, answer: HttpResponse, id: string): void {
  res.writeStatus(`${answer.status} ${STATUS_TEXT[answer.status] ?? ''}`.trimEnd());
  res.writeHeader('x-request-id', id);
  res.writeHeader('x-content-type-options', 'nosniff');
  for (const [k, v] of Object.entries(answer.headers ?? {})) {
    if (typeof v === 'string') res.writeHeader(k, v);
    else for (const one of v) res.writeHeader(k, one);
  }
}
