// Drawing on the Live page's canvas: the zones (and the one being drawn) and the boxes of the latest frame, each
// labelled with its track id, label, score and the classifier's answer.
const COLORS = ['#ffd33d', '#3fb950', '#58a6ff', '#f778ba', '#ff7b72', '#a371f7', '#79c0ff', '#ffa657'];

/** What a box says: "#3 face 88% · happy 97%". */
export function boxLabel(o) {
  const track = o.trackId !== undefined ? `#${o.trackId} ` : '';
  const cls = o.classification ? ` · ${o.classification.label} ${Math.round(o.classification.score * 100)}%` : '';
  return `${track}${o.label} ${Math.round(o.score * 100)}%${cls}`;
}

/**
 * Sizes the canvas to its box at the screen's pixel density and clears it; returns the 2D context (in CSS pixels)
 * and the box's size, or undefined without a context.
 */
export function clearCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext('2d');
  if (!g) return undefined;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  return { g, w, h };
}

/** Where the video's picture lies in the element ("contain"): offset and size in CSS pixels. */
export function pictureRect(cw, ch, vw, vh) {
  const scale = Math.min(cw / vw, ch / vh);
  return { x: (cw - vw * scale) / 2, y: (ch - vh * scale) / 2, w: vw * scale, h: vh * scale };
}

export function drawZones(g, pic, zones, draft) {
  g.lineWidth = 2;
  for (const z of zones) {
    g.strokeStyle = z.mode === 'exclude' ? '#ff7b72' : '#3fb950';
    g.fillStyle = z.mode === 'exclude' ? 'rgba(255,123,114,.12)' : 'rgba(63,185,80,.12)';
    g.beginPath();
    z.polygon.forEach(([x, y], i) => (i ? g.lineTo : g.moveTo).call(g, pic.x + x * pic.w, pic.y + y * pic.h));
    g.closePath();
    g.fill();
    g.stroke();
    const [x0, y0] = z.polygon[0];
    g.fillStyle = g.strokeStyle;
    g.font = '600 12px system-ui, sans-serif';
    g.fillText(z.name, pic.x + x0 * pic.w + 4, pic.y + y0 * pic.h + 4);
  }
  if (draft && draft.length) {
    g.strokeStyle = '#ffffff';
    g.setLineDash([6, 4]);
    g.beginPath();
    draft.forEach(([x, y], i) => (i ? g.lineTo : g.moveTo).call(g, pic.x + x * pic.w, pic.y + y * pic.h));
    g.stroke();
    g.setLineDash([]);
    g.fillStyle = '#ffffff';
    for (const [x, y] of draft) g.fillRect(pic.x + x * pic.w - 3, pic.y + y * pic.h - 3, 6, 6);
  }
}

/** Boxes are in pixels of the frame the server decoded (`d.width` x `d.height`). */
export function drawBoxes(g, pic, d) {
  const sx = pic.w / d.width;
  const sy = pic.h / d.height;
  g.lineWidth = 2;
  g.font = '600 13px system-ui, sans-serif';
  g.textBaseline = 'top';
  for (const o of d.objects) {
    const [x1, y1, x2, y2] = o.box;
    const x = pic.x + x1 * sx;
    const y = pic.y + y1 * sy;
    const color = COLORS[(o.trackId ?? o.classId) % COLORS.length];
    g.strokeStyle = color;
    g.strokeRect(x, y, (x2 - x1) * sx, (y2 - y1) * sy);
    const label = boxLabel(o);
    const tw = g.measureText(label).width + 8;
    const ty = y >= 18 ? y - 18 : y;
    g.fillStyle = color;
    g.fillRect(x - 1, ty, tw, 18);
    g.fillStyle = '#0d1117';
    g.fillText(label, x + 3, ty + 2);
  }
}
