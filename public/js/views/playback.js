// A recorded live session played back with its stored detections drawn over it, in sync: each video frame shown
// gets the boxes of the stored frame at that time (`t`, ms since the first frame, is the recording's clock).
// Frames the server skipped keep the last boxes for up to HOLD_MS. Detections stream in as NDJSON while playing.
import { h } from '../dom.js';
import { clearCanvas, drawBoxes, pictureRect } from './live-draw.js';

const HOLD_MS = 250;

/** The index of the last frame with t <= ms, or -1. */
export function frameAt(frames, ms) {
  let lo = 0;
  let hi = frames.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (frames[mid].t <= ms) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** Reads NDJSON frames from `url`, appending to `frames` as lines arrive; resolves when all are in. */
async function streamFrames(url, frames, onProgress) {
  const res = await fetch(url, { headers: { accept: 'application/x-ndjson' }, credentials: 'same-origin' });
  if (!res.ok || !res.body) throw new Error(`The detections could not be loaded (${res.status}).`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (rest + value).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line) frames.push(JSON.parse(line));
    onProgress(frames.length);
  }
  if (rest) frames.push(JSON.parse(rest));
  onProgress(frames.length);
}

/** The player: a video with a canvas over it; returns the element and a cleanup function. */
export function playback(session, src) {
  const video = h('video', { class: 'recording', src, controls: true, preload: 'metadata', playsinline: true, muted: true, 'aria-label': 'Recording of the session, with its detections drawn over it' });
  const canvas = h('canvas', { 'aria-hidden': 'true', dataset: { frame: '' } });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' }, session.storesDetections ? 'Loading the detections…' : 'This session did not keep its detections: the recording plays without boxes.');
  const stage = h('div', { class: 'stage playback' }, video, canvas);
  const frames = [];
  let stopped = false;

  const draw = (mediaTime) => {
    const cleared = clearCanvas(canvas);
    if (!cleared) return;
    const { g, w, h: hgt } = cleared;
    const ms = mediaTime * 1000;
    const i = frameAt(frames, ms + 1);
    const f = i >= 0 && ms - frames[i].t <= HOLD_MS ? frames[i] : undefined;
    canvas.dataset.frame = f ? String(f.frame) : '';
    if (!f || !video.videoWidth) return;
    const pic = pictureRect(w, hgt, video.videoWidth, video.videoHeight);
    drawBoxes(g, pic, { width: session.width ?? video.videoWidth, height: session.height ?? video.videoHeight, objects: f.objects });
  };
  // Every painted video frame where the browser says which one it is; otherwise on each animation frame.
  if ('requestVideoFrameCallback' in video) {
    const onFrame = (_now, meta) => {
      if (stopped) return;
      draw(meta.mediaTime);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  } else {
    const tick = () => {
      if (stopped) return;
      draw(video.currentTime);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
  video.addEventListener('seeked', () => draw(video.currentTime));
  window.addEventListener('resize', () => draw(video.currentTime));

  if (session.storesDetections) {
    streamFrames(`/api/v1/live-sessions/${session.id}/detections`, frames, (n) => {
      status.textContent = `${n} frames of detections loaded…`;
    })
      .then(() => {
        stage.dataset.loaded = String(frames.length);
        status.textContent = frames.length ? `${frames.length} processed frames; their boxes are drawn over the recording as it plays.` : 'No detections were stored for this session.';
        draw(video.currentTime);
      })
      .catch((err) => {
        status.textContent = err instanceof Error ? err.message : String(err);
      });
  }
  return { el: h('div', null, stage, status), stop: () => (stopped = true) };
}
