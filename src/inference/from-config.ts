/** The detection engine as the configuration asks for it; the server and `npm run worker` open it the same way. */
import type { Config } from '../config.js';
import { DetectionEngine } from './engine.js';
import type { Logger } from './types.js';

export function openEngine(config: Config, logger: Logger): Promise<DetectionEngine> {
  return DetectionEngine.open({
    modelsDir: config.modelsDir,
    providers: [...config.onnx.providers],
    intraOpThreads: config.onnx.intraOpThreads,
    interOpThreads: config.onnx.interOpThreads,
    workers: config.onnx.workers,
    ...(config.onnx.defaultModel ? { defaultModel: config.onnx.defaultModel } : {}),
    logger,
  });
}
