import type { AppDeps } from '../deps.js';
import { json } from '../respond.js';
import { jsonResponse, obj, ref } from '../schemas.js';
import type { Route } from '../types.js';

export function modelRoutes(deps: AppDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/models',
      access: 'public',
      doc: {
        summary: 'Detection models this server offers',
        description:
          'Every manifest in MODELS_DIR with its ONNX file: the bundled `blazeface` (faces) and `nanodet` (80 COCO classes), ' +
          'and any YOLO v5/v8/v11 export dropped in with a manifest. Exactly one is the default.',
        tags: ['Models'],
        responses: { '200': jsonResponse('The models', obj({ models: { type: 'array', items: ref('Model') } }))},
      },
      handler: async () => json(200, { models: deps.engine.list() }),
    },
  ];
}
