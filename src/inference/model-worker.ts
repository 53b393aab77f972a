/**
 * Worker-thread entry that hosts one model: an OnnxDetector or an OnnxClassifier. onnxruntime-node's `session.run` holds the calling
 * thread for the whole inference, so on the main thread a 40 ms model stalls every socket, timer and
 * ffmpeg pipe for 40 ms per frame. Here it only stalls this thread.
 *
 * Protocol (see worker-model.ts): workerData = { manifest, modelPath, info, session options };
 * the worker posts { type: 'ready', provider } or { type: 'failed', error } once, then answers each
 * { type: 'detect', id, frames } with { type: 'result', id, results } (one per frame), each
 * { type: 'classify', id, frame, regions } with { type: 'result', id, classified }, or either with { type: 'result', id, error }.
 * Log lines travel as { type: 'log', level, obj, msg }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isAppError } from '../errors.js';
import { OnnxClassifier } from './classifier.js';
import { OnnxDetector } from './detector.js';
import type { WorkerInit, WorkerReply, WorkerRequest, WireError } from './worker-protocol.js';

if (!parentPort) throw new Error('model-worker.ts must run in a worker thread');
const port = parentPort;

const wire = (e: unknown): WireError =>
  isAppError(e) ? { code: e.code, message: e.message } : { message: e instanceof Error ? e.message : String(e) };

const post = (m: WorkerReply): void => port.postMessage(m);
const logger = {
  info: (obj: object, msg?: string): void => post({ type: 'log', level: 'info', obj, ...(msg ? { msg } : {}) }),
  warn: (obj: object, msg?: string): void => post({ type: 'log', level: 'warn', obj, ...(msg ? { msg } : {}) }),
};

const init = workerData as WorkerInit;
const opts = { ...init.session, logger };
const loading = init.manifest.kind === 'classifier' ? OnnxClassifier.load(init.manifest, init.modelPath, init.info, opts) : OnnxDetector.load(init.manifest, init.modelPath, init.info, opts);
const model = await loading.catch((e: unknown) => {
  post({ type: 'failed', error: wire(e) });
  port.close(); // nothing else holds the thread: it ends
  return undefined;
});
if (model) {
  post({ type: 'ready', provider: model.provider, batchable: model.batchable, unavailable: [...model.unavailable] });
  port.on('message', (req: WorkerRequest) => serve(model, req));
}

function serve(model: OnnxDetector | OnnxClassifier, req: WorkerRequest): void {
  if (req.type === 'close') {
    void model.close().finally(() => port.close());
    return;
  }
  if (req.type === 'classify') {
    if (!(model instanceof OnnxClassifier)) {
      post({ type: 'result', id: req.id, error: { code: 'VALIDATION_FAILED', message: `${model.model.name} is a detector, not a classifier.` } });
      return;
    }
    model.classify(req.frame, req.regions).then(
      (classified) => post({ type: 'result', id: req.id, classified }),
      (e: unknown) => post({ type: 'result', id: req.id, error: wire(e) }),
    );
    return;
  }
  if (!(model instanceof OnnxDetector)) {
    post({ type: 'result', id: req.id, error: { code: 'VALIDATION_FAILED', message: `${model.model.name} is a classifier, not a detector.` } });
    return;
  }
  model.detectFrames(req.frames).then(
    (results) => post({ type: 'result', id: req.id, results }),
    (e: unknown) => post({ type: 'result', id: req.id, error: wire(e) }),
  );
}
