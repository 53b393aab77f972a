/**
 * A job's results in formats other tools read:
 * - COCO detection JSON: one `image` per picture and per video frame (`frame_index`), one `annotation` per object
 *   (`bbox` [x, y, width, height] in pixels, `score`, and `track_id` / `classification` when present), the
 *   model's labels as `categories` (id = classId + 1). For detection jobs only.
 * - CSV (csv-stringify): one row per object, `file, frame, label, score, x1, y1, x2, y2, classification,
 *   classification_score, track_id, zones`; a whole-picture classification job gives one row per label of the top 5,
 *   with the box columns empty.
 */
import { stringify } from 'csv-stringify/sync';
import { AppError } from '../errors.js';
import type { Detection, LabelScore } from '../inference/types.js';

/** One done file of a job, as job_files holds it. */
export interface ExportFile {
  readonly name: string;
  readonly kind: 'image' | 'video';
  readonly width: number;
  readonly height: number;
  /** Images: Detection[] or {classifications}; videos: [{index, objects} | {index, classifications}]. */
  readonly results: unknown;
}

interface Frame {
  index: number | null;
  objects?: Detection[];
  classifications?: LabelScore[];
}

/** Every frame of a file: one for a picture, one per video frame. */
function framesOf(f: ExportFile): Frame[] {
  if (f.kind === 'image') {
    const r = f.results;
    return [Array.isArray(r) ? { index: null, objects: r as Detection[] } : { index: null, ...(r as { classifications: LabelScore[] }) }];
  }
  return (Array.isArray(f.results) ? f.results : []) as Frame[];
}

export interface CocoExport {
  info: { description: string; date_created: string };
  images: { id: number; file_name: string; width: number; height: number; frame_index?: number }[];
  annotations: {
    id: number;
    image_id: number;
    category_id: number;
    bbox: [number, number, number, number];
    area: number;
    iscrowd: 0;
    score: number;
    track_id?: number;
    classification?: Detection['classification'];
  }[];
  categories: { id: number; name: string; supercategory: string }[];
}

const r2 = (v: number): number => Math.round(v * 100) / 100;

export function toCoco(job: { id: string; model: string }, labels: readonly string[], files: readonly ExportFile[]): CocoExport {
  const out: CocoExport = {
    info: { description: `Lookout job ${job.id}, model ${job.model}`, date_created: new Date().toISOString() },
    images: [],
    annotations: [],
    categories: labels.map((name, i) => ({ id: i + 1, name, supercategory: '' })),
  };
  for (const f of files) {
    for (const fr of framesOf(f)) {
      if (fr.classifications) throw new AppError('VALIDATION_FAILED', 'format: COCO holds boxes; this job classified whole pictures: use format=csv.');
      const imageId = out.images.length + 1;
      out.images.push({ id: imageId, file_name: f.name, width: f.width, height: f.height, ...(fr.index !== null ? { frame_index: fr.index } : {}) });
      for (const o of fr.objects ?? []) {
        const [x1, y1, x2, y2] = o.box;
        out.annotations.push({
          id: out.annotations.length + 1,
          image_id: imageId,
          category_id: o.classId + 1,
          bbox: [x1, y1, r2(x2 - x1), r2(y2 - y1)],
          area: r2((x2 - x1) * (y2 - y1)),
          iscrowd: 0,
          score: o.score,
          ...(o.trackId !== undefined ? { track_id: o.trackId } : {}),
          ...(o.classification ? { classification: o.classification } : {}),
        });
      }
    }
  }
  return out;
}

export const CSV_COLUMNS = ['file', 'frame', 'label', 'score', 'x1', 'y1', 'x2', 'y2', 'classification', 'classification_score', 'track_id', 'zones'] as const;

/** The CSV of one file's rows (the header comes with the first file). */
export function toCsv(files: readonly ExportFile[]): string {
  const rows: (string | number)[][] = [[...CSV_COLUMNS]];
  for (const f of files) {
    for (const fr of framesOf(f)) {
      const frame = fr.index ?? '';
      for (const c of fr.classifications ?? []) rows.push([f.name, frame, c.label, c.score, '', '', '', '', '', '', '', '']);
      for (const o of fr.objects ?? []) {
        rows.push([f.name, frame, o.label, o.score, ...o.box, o.classification?.label ?? '', o.classification?.score ?? '', o.trackId ?? '', (o.zones ?? []).join(';')]);
      }
    }
  }
  return stringify(rows);
}
