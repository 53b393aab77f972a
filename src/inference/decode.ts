/** Picks the family decoder and the NMS flavour for a manifest: raw outputs -> final candidates (input pixels). */
import { blazefaceAnchors, decodeBlazeface } from './decoders/blazeface.js';
import { decodeNanodet } from './decoders/nanodet.js';
import { decodeYolo } from './decoders/yolo.js';
import type { ModelManifest } from './manifest.js';
import { nms, weightedNms } from './nms.js';
import type { Candidate, Outputs } from './types.js';

export type Postprocess = (outputs: Outputs) => Candidate[];

export function createPostprocess(m: ModelManifest): Postprocess {
  const nmsOpts = { iouThreshold: m.overlapThreshold, maxDetections: m.maxDetections, classAgnostic: m.classAgnostic };
  const suppress = m.nms === 'weighted' ? weightedNms : nms;
  switch (m.family) {
    case 'blazeface': {
      const anchors = blazefaceAnchors(m.blazeface.layers);
      const opts = { inputSize: m.inputSize, layers: m.blazeface.layers, scoreThreshold: m.scoreThreshold, anchors };
      return (outputs) => suppress(decodeBlazeface(outputs, opts), nmsOpts);
    }
    case 'nanodet': {
      const opts = { inputSize: m.inputSize, numClasses: m.labels.length, regMax: m.nanodet.regMax, strides: m.nanodet.strides, scoreThreshold: m.scoreThreshold };
      return (outputs) => suppress(decodeNanodet(outputs, opts), nmsOpts);
    }
    case 'yolo': {
      const opts = { numClasses: m.labels.length, scoreThreshold: m.scoreThreshold, version: m.yolo.version };
      return (outputs) => {
        const first = Object.values(outputs)[0];
        if (!first) throw new Error('YOLO model produced no output');
        return suppress(decodeYolo(first, opts), nmsOpts);
      };
    }
    case 'classifier':
      throw new Error(`Model ${m.name} is a classifier, not a detector`);
  }
}
