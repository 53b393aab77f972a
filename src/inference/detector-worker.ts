/**
 * Worker-thread entry that hosts one OnnxDetector. onnxruntime-node's `session.run` holds the calling
 * thread for the whole inference, so on the main thread a 40 ms model stalls every socket, timer and
 * ffmpeg pipe for 40 ms per frame. Here it only stalls this thread.
 *
 * Protocol (see worker-detector.ts): workerData = { manifest, modelPath, info, session options };
 * the worker posts { type: 'ready', provider } or { type: 'failed', error } once, then answers each
 * { type: 'detect', id, frames } with { type: 'result', id, results } (one per frame) or { type: 'result', id, error }.
 * Log lines travel as { type: 'log', level, obj, msg }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isAppError } from '../errors.js';
import { OnnxDetector } from './detector.js';
import type { WorkerInit, WorkerReply, WorkerRequest, WireError } from './worker-protocol.js';

if (!parentPort) throw new Error('detector-worker.ts must run in a worker thread');
const port = parentPort;

const wire = (e: unknown): WireError =>
  isAppError(e) ? { code: e.code, message: e.message } : { message: e instanceof Error ? e.message : String(e) };

const post = (m: WorkerReply): void => port.postMessage(m);
const logger = {
  info: (obj: object, msg?: string): void => post({ type: 'log', level: 'info', obj, ...(msg ? { msg } : {}) }),
  warn: (obj: object, msg?: string): void => post({ type: 'log', level: 'warn', obj, ...(msg ? { msg } : {}) }),
};

const init = workerData as WorkerInit;
const detector = await OnnxDetector.load(init.manifest, init.modelPath, init.info, { ...init.session, logger }).catch((e: unknown) => {
  post({ type: 'failed', error: wire(e) });
  port.close(); // nothing else holds the thread: it ends
  return undefined;
});
if (detector) {
  post({ type: 'ready', provider: detector.provider, batchable: detector.batchable, unavailable: [...detector.unavailable] });
  port.on('message', (req: WorkerRequest) => serve(detector, req));
}

function serve(detector: OnnxDetector, req: WorkerRequest): void {
  if (req.type === 'close') {
    void detector.close().finally(() => port.close());
    return;
  }
  detector.detectFrames(req.frames).then(
    (results) => post({ type: 'result', id: req.id, results }),
    (e: unknown) => post({ type: 'result', id: req.id, error: wire(e) }),
  );
}
