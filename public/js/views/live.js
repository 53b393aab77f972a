// Live detection: the camera goes to the server over WebRTC; detections come back on the data channel (and the
// WebSocket) and are drawn over the video, scaled from the frame the server saw to the size shown here.
import { api } from '../api.js';
import { definitionList, errorBox, fill, h, ms, tokens } from '../dom.js';
import { boxLabel, clearCanvas, drawBoxes, drawZones, pictureRect } from './live-draw.js';
import { iceGathered, offer } from './live-signal.js';
import { pipelineControls, splitModels } from './pipeline-controls.js';

const END_REASONS = {
  stopped: 'You stopped the session.',
  disconnected: 'The connection to the server was lost (no video reached it for a while).',
  insufficient_tokens: 'Your balance ran out of tokens. Ask an admin for a top-up to go on.',
  error: 'The server could not go on with this session.',
};
/** Boxes older than this are no longer drawn. */
const STALE_MS = 1000;

export async function render(main, ctx) {
  document.title = 'Live · Lookout';
  const box = errorBox();
  const cameraSel = h('select', { name: 'camera', 'aria-describedby': 'camera-hint' }, h('option', { value: '' }, 'Default camera'));
  const modelSel = h('select', { name: 'model' });
  const budget = h('input', { name: 'budgetMs', type: 'number', min: 5, max: 10000, step: 1, value: 100, required: true, inputmode: 'numeric' });
  const record = h('input', { name: 'record', type: 'checkbox', checked: true });
  const startBtn = h('button', { type: 'submit', class: 'primary' }, 'Start');
  const stopBtn = h('button', { type: 'button', disabled: true }, 'Stop');
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' }, 'Not started.');
  const video = h('video', { autoplay: true, playsinline: true, muted: true, 'aria-label': 'Your camera' });
  video.muted = true;
  const canvas = h('canvas', { 'aria-hidden': 'true' });
  const placeholder = h('div', { class: 'placeholder' }, 'Press Start: your browser will ask to use the camera.');
  const stage = h('div', { class: 'stage', dataset: { boxes: '0' } }, video, canvas, placeholder);
  const stat = {
    fps: h('dd', { 'data-stat': 'fps' }, '–'),
    processed: h('dd', { 'data-stat': 'processed' }, '–'),
    dropped: h('dd', { 'data-stat': 'dropped' }, '–'),
    p50: h('dd', { 'data-stat': 'p50' }, '–'),
    p95: h('dd', { 'data-stat': 'p95' }, '–'),
    tokens: h('dd', { 'data-stat': 'tokens' }, '–'),
  };
  const objectsList = h('ul', { class: 'objects', 'aria-label': 'Objects in the latest frame' });
  const countsList = h('ul', { class: 'counts', 'aria-label': 'Objects seen per label' });
  const eventsList = h('ol', { class: 'events', 'aria-label': 'Track and zone events' });
  const pipelineSlot = h('div');
  const warning = h('p', { class: 'notice small' });

  const form = h(
    'form',
    { class: 'panel' },
    h(
      'div',
      { class: 'row' },
      h('label', null, 'Camera', cameraSel),
      h('label', null, 'Model', modelSel),
      h('label', null, 'Latency budget (ms)', budget),
      h('label', { class: 'check' }, record, 'Record'),
      h('div', { class: 'actions' }, startBtn, stopBtn),
    ),
    h('p', { id: 'camera-hint', class: 'muted small' }, 'The list of cameras fills in once the browser may use one. On a phone, pick the back camera here.'),
    pipelineSlot,
    box.el,
  );

  // Browsers give the camera only to secure pages: plain http from another machine (a phone on the LAN) is not one.
  const insecure = h('div', { class: 'notice insecure', role: 'alert', hidden: true });
  if (!window.isSecureContext) {
    insecure.hidden = false;
    fill(insecure, 'This page was opened over plain http, so your browser will not share the camera with it. ');
    api('GET', '/device-links')
      .then(({ httpsPort }) => {
        if (httpsPort > 0) {
          const url = `https://${location.hostname}:${httpsPort}/#/live`;
          insecure.append('Open it over HTTPS instead: ', h('a', { href: url }, url), ' (accept the certificate warning the first time: it is this server\'s own certificate).');
        } else {
          insecure.append('Ask the operator to turn HTTPS on (HTTPS_PORT), or open it as http://localhost on the server itself.');
        }
      })
      .catch(() => undefined);
  }

  main.append(
    h('h1', null, 'Live detection'),
    insecure,
    form,
    h(
      'div',
      { class: 'live-grid' },
      stage,
      h(
        'section',
        { class: 'panel flush', 'aria-label': 'Session statistics' },
        status,
        definitionList(
          [
            ['Processed', stat.fps],
            ['Frames', stat.processed],
            ['Dropped', stat.dropped],
            ['Latency p50', stat.p50],
            ['Latency p95', stat.p95],
            ['Tokens spent', stat.tokens],
          ],
          { class: 'stats' },
        ),
        warning,
        h('h2', { class: 'small-heading' }, 'Seen so far'),
        countsList,
        objectsList,
        eventsList,
      ),
    ),
  );

  // ---- models, pipeline and cameras
  let controls = null;
  /** Sends the pipeline's current settings to a running session (live.configure). */
  const reconfigure = () => {
    if (!s?.id || !controls) return;
    ctx.socket.send({ type: 'live.configure', sessionId: s.id, ...controls.changes() });
  };
  try {
    const { models } = await api('GET', '/models');
    for (const m of splitModels(models).detectors) {
      modelSel.append(h('option', { value: m.name, selected: m.default }, `${m.name} (${m.labels.length === 1 ? m.labels[0] : `${m.labels.length} classes`})`));
    }
    controls = pipelineControls({ models, modelSel, zones: true, onChange: reconfigure });
    pipelineSlot.append(controls.el);
  } catch (err) {
    box.show(err);
  }
  // Clicks on the video while a zone is being drawn add its corners (fractions of the picture).
  stage.addEventListener('click', (e) => {
    if (!controls?.draft() || !video.videoWidth) return;
    const r = stage.getBoundingClientRect();
    const pic = pictureRect(r.width, r.height, video.videoWidth, video.videoHeight);
    const x = (e.clientX - r.left - pic.x) / pic.w;
    const y = (e.clientY - r.top - pic.y) / pic.h;
    if (x >= 0 && x <= 1 && y >= 0 && y <= 1) controls.addPoint(x, y);
  });
  const fillCameras = async () => {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
    const current = cameraSel.value;
    fill(cameraSel, h('option', { value: '' }, 'Default camera'));
    devices.forEach((d, i) => cameraSel.append(h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label || `Camera ${i + 1}`)));
  };
  void fillCameras().catch(() => undefined);

  // ---- one session at a time
  /** @type {null | {id: string | null, pc: RTCPeerConnection, stream: MediaStream, lastFrame: number, latest: any, latestAt: number, raf: number, offs: Array<() => void>, ended: boolean}} */
  let s = null;

  const setStatus = (text, live = false) => {
    status.textContent = text;
    status.classList.toggle('live', live);
  };

  const draw = () => {
    if (!s) return;
    s.raf = requestAnimationFrame(draw);
    const cleared = clearCanvas(canvas);
    if (!cleared) return;
    const { g, w: cw, h: ch } = cleared;
    const d = s.latest;
    const vw = video.videoWidth;
    const vh = video.videoHeight;
    if (!vw || !vh) return;
    const pic = pictureRect(cw, ch, vw, vh);
    if (controls) drawZones(g, pic, controls.zones(), controls.draft());
    if (!d || performance.now() - s.latestAt > STALE_MS) {
      stage.dataset.boxes = '0';
      return;
    }
    drawBoxes(g, pic, d);
    stage.dataset.boxes = String(d.objects.length);
  };

  const onDetections = (d) => {
    if (!s || d.sessionId !== s.id || d.frame <= s.lastFrame) return; // the same message comes on both channels
    s.lastFrame = d.frame;
    s.latest = d;
    s.latestAt = performance.now();
    stage.dataset.frame = String(d.frame);
    fill(
      objectsList,
      d.objects.length === 0
        ? h('li', { class: 'muted' }, 'Nothing found in the latest frame.')
        : d.objects.slice(0, 20).map((o) => h('li', null, boxLabel(o))),
    );
  };

  const onEvent = (m) => {
    if (!s || m.sessionId !== s.id) return;
    // The same event comes on the data channel and the WebSocket: show it once.
    const key = `${m.type}.${m.event}.${m.trackId}.${m.zone ?? ''}`;
    if (s.seen.has(key)) return;
    s.seen.add(key);
    const text = m.type === 'track' ? `#${m.trackId} ${m.label} ${m.event === 'started' ? 'appeared' : 'gone'}` : `#${m.trackId} ${m.label} ${m.event} ${m.zone}`;
    eventsList.prepend(h('li', { dataset: { event: `${m.type}.${m.event}` } }, `${new Date(m.at).toLocaleTimeString()} ${text}`));
    while (eventsList.children.length > 20) eventsList.lastElementChild?.remove();
  };

  const onStats = (m) => {
    if (!s || m.sessionId !== s.id) return;
    showStats(m);
  };

  const showStats = (m) => {
    stat.fps.textContent = `${m.fps} fps`;
    stat.processed.textContent = `${m.framesProcessed} of ${m.framesIn}`;
    stat.dropped.textContent = m.framesIn > 0 ? `${((100 * m.framesDropped) / m.framesIn).toFixed(1)}%` : '0%';
    stat.p50.textContent = ms(m.p50Ms);
    stat.p95.textContent = ms(m.p95Ms);
    stat.tokens.textContent = tokens(m.tokensCharged ?? 0);
    warning.textContent = m.warning ?? '';
    const counts = Object.entries(m.counts ?? {});
    fill(countsList, ...(counts.length ? counts.map(([label, n]) => h('li', { dataset: { label } }, `${label}: ${n}`)) : [h('li', { class: 'muted' }, 'No objects tracked yet.')]));
  };

  const teardown = () => {
    if (!s) return;
    const cur = s;
    s = null;
    cancelAnimationFrame(cur.raf);
    cur.offs.forEach((off) => off());
    cur.pc.close();
    cur.stream.getTracks().forEach((t) => t.stop());
    video.srcObject = null;
    placeholder.hidden = false;
    stage.dataset.boxes = '0';
    const g = canvas.getContext('2d');
    g?.clearRect(0, 0, canvas.width, canvas.height);
    startBtn.disabled = false;
    stopBtn.disabled = true;
    for (const el of [cameraSel, modelSel, budget, record]) el.disabled = false;
    controls?.setDisabled(false);
  };

  const onEnded = (m) => {
    if (!s || m.sessionId !== s.id) return;
    showStats(m.stats);
    setStatus(`Session ended. ${END_REASONS[m.reason] ?? m.reason}${m.message ? ` ${m.message}` : ''}`);
    stage.dataset.ended = m.reason;
    teardown();
  };

  const start = async () => {
    box.clear();
    const budgetMs = Number(budget.value);
    if (!Number.isInteger(budgetMs) || budgetMs < 5 || budgetMs > 10000) {
      box.show(new Error('The latency budget must be a whole number of milliseconds from 5 to 10000.'));
      budget.focus();
      return;
    }
    if (!navigator.mediaDevices?.getUserMedia) {
      box.show(new Error('This browser cannot share a camera here. Camera access needs HTTPS (or localhost).'));
      return;
    }
    startBtn.disabled = true;
    for (const el of [cameraSel, modelSel, budget, record]) el.disabled = true;
    controls?.setDisabled(true, { live: true });
    setStatus('Opening the camera…');
    /** @type {MediaStream} */
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: {
          ...(cameraSel.value ? { deviceId: { exact: cameraSel.value } } : {}),
          width: { ideal: 640 },
          height: { ideal: 480 },
          frameRate: { ideal: 30, max: 30 },
        },
      });
    } catch (err) {
      startBtn.disabled = false;
      for (const el of [cameraSel, modelSel, budget, record]) el.disabled = false;
      setStatus('Not started.');
      box.show(new Error(err?.name === 'NotAllowedError' ? 'The browser was not allowed to use the camera. Allow it in the site settings and try again.' : `The camera could not be opened: ${err?.message ?? err}`));
      return;
    }
    void fillCameras().catch(() => undefined);
    video.srcObject = stream;
    placeholder.hidden = true;
    const pc = new RTCPeerConnection({ iceServers: [] });
    s = { id: null, pc, stream, lastFrame: 0, latest: null, latestAt: 0, raf: 0, offs: [], ended: false, seen: new Set() };
    fill(eventsList);
    fill(countsList);
    const cur = s;
    stopBtn.disabled = false;
    stopBtn.focus();
    delete stage.dataset.ended;
    for (const track of stream.getVideoTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const dc = pc.createDataChannel('detections');
    dc.onmessage = (e) => {
      try {
        const m = JSON.parse(e.data);
        if (m.type === 'detections') onDetections(m);
        else if (m.type === 'track' || m.type === 'zone') onEvent(m);
      } catch {
        // not ours
      }
    };
    cur.offs.push(
      ctx.socket.on('detections', onDetections),
      ctx.socket.on('live.stats', onStats),
      ctx.socket.on('live.ended', onEnded),
      ctx.socket.on('track', onEvent),
      ctx.socket.on('zone', onEvent),
      ctx.socket.on('live.configured', (m) => m.sessionId === cur.id && setStatus('Live · settings applied', true)),
      ctx.socket.on('error', (m) => m.re === 'live.configure' && box.show(Object.assign(new Error(m.message), { code: m.code }))),
    );
    pc.onconnectionstatechange = () => {
      if (s !== cur) return;
      if (pc.connectionState === 'connected') setStatus('Live', true);
      if (pc.connectionState === 'failed') {
        setStatus('The media connection failed. Your network may block WebRTC to this server.');
        if (cur.id) ctx.socket.send({ type: 'live.stop', sessionId: cur.id });
        teardown();
      }
    };
    s.raf = requestAnimationFrame(draw);
    setStatus('Connecting…');
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await iceGathered(pc, 3000);
      const answer = await offer(ctx.socket, {
        type: 'live.offer',
        sdp: pc.localDescription?.sdp,
        model: modelSel.value || undefined,
        budgetMs,
        record: record.checked,
        ...(controls?.spec() ?? {}),
      });
      if (s !== cur) {
        ctx.socket.send({ type: 'live.stop', sessionId: answer.sessionId });
        return;
      }
      cur.id = answer.sessionId;
      stage.dataset.session = answer.sessionId;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    } catch (err) {
      if (s === cur) {
        teardown();
        setStatus('Not started.');
        box.show(err);
      }
    }
  };

  const stop = () => {
    if (!s) return;
    stopBtn.disabled = true;
    setStatus('Stopping…');
    const cur = s;
    if (cur.id) ctx.socket.send({ type: 'live.stop', sessionId: cur.id });
    // live.ended normally follows at once; don't wait on a server that has gone.
    setTimeout(() => {
      if (s === cur) {
        setStatus('Session ended. You stopped the session.');
        teardown();
      }
    }, 3000);
    if (!cur.id) teardown();
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void start();
  });
  stopBtn.addEventListener('click', stop);

  return () => {
    if (s?.id) ctx.socket.send({ type: 'live.stop', sessionId: s.id });
    teardown();
  };
}
