// Past live sessions with their figures, and one session's recording played with its detections drawn over it.
import { api } from '../api.js';
import { cardTable, definitionList, duration, errorBox, fill, h, labelCells, ms, tokens, when } from '../dom.js';
import { playback } from './playback.js';

const REASONS = { stopped: 'stopped', disconnected: 'disconnected', insufficient_tokens: 'out of tokens', error: 'error' };
const PAGE = 50;

export async function render(main, ctx, { params }) {
  if (params[0]) return renderOne(main, params[0]);
  document.title = 'History · Lookout';
  const box = errorBox();
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Show older sessions');
  main.append(
    h('h1', null, 'Live session history'),
    box.el,
    h(
      'div',
      { class: 'table-wrap' },
      cardTable(
        [
          'Started',
          'Model',
          { label: 'Video', class: 'hide-narrow' },
          { label: 'Frames', class: 'num' },
          { label: 'Dropped', class: 'num hide-narrow' },
          { label: 'p50 / p95', class: 'num' },
          { label: 'Tokens', class: 'num hide-narrow' },
          'Ended',
        ],
        tbody,
      ),
    ),
    more,
  );
  let oldest;
  const load = async () => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (oldest) q.set('before', oldest);
    try {
      const { sessions } = await api('GET', `/live-sessions?${q}`);
      if (!oldest && sessions.length === 0) fill(tbody, h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'No live sessions yet.')));
      for (const s of sessions) tbody.append(row(s));
      labelCells(/** @type {HTMLTableElement} */ (tbody.parentElement));
      oldest = sessions.at(-1)?.startedAt ?? oldest;
      more.hidden = sessions.length < PAGE;
    } catch (err) {
      box.show(err);
    }
  };
  more.addEventListener('click', () => void load());
  await load();
}

function row(s) {
  return h(
    'tr',
    { dataset: { session: s.id } },
    h('td', { class: 'nowrap' }, h('a', { href: `#/history/${s.id}` }, when(s.startedAt))),
    h('td', null, s.model),
    h('td', { class: 'hide-narrow nowrap' }, s.codec ? `${s.codec} ${s.width ?? '?'}×${s.height ?? '?'}` : '–'),
    h('td', { class: 'num' }, `${s.framesProcessed} / ${s.framesIn}`),
    h('td', { class: 'num hide-narrow' }, s.framesIn ? `${((100 * s.framesDropped) / s.framesIn).toFixed(1)}%` : '–'),
    h('td', { class: 'num nowrap' }, `${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p95)}`),
    h('td', { class: 'num hide-narrow' }, tokens(s.tokensCharged)),
    h('td', null, s.state === 'live' ? h('span', { class: 'badge live' }, 'live') : REASONS[s.endReason] ?? s.endReason ?? '–'),
  );
}

async function renderOne(main, id) {
  const box = errorBox();
  main.append(h('p', null, h('a', { href: '#/history' }, '← All sessions')), h('h1', null, 'Live session'), box.el);
  document.title = 'Live session · Lookout';
  let s;
  try {
    ({ session: s } = await api('GET', `/live-sessions/${encodeURIComponent(id)}`));
  } catch (err) {
    box.show(err);
    return;
  }
  const dl = definitionList(
    [
      ['Started', when(s.startedAt)],
      ['Duration', duration(s.startedAt, s.endedAt)],
      ['Ended', s.state === 'live' ? 'still live' : (REASONS[s.endReason] ?? s.endReason ?? '–')],
      ['Model', s.model],
      ['Video', s.codec ? `${s.codec}, ${s.width}×${s.height}` : '–'],
      ['Frames in', s.framesIn],
      ['Processed', s.framesProcessed],
      ['Dropped', s.framesDropped],
      ['Latency p50 / p95 / p99', `${ms(s.latencyMs.p50)} / ${ms(s.latencyMs.p95)} / ${ms(s.latencyMs.p99)}`],
      ['Tokens', tokens(s.tokensCharged)],
    ],
    { class: 'stats narrow' },
  );
  const src = `/api/v1/live-sessions/${s.id}/recording`;
  let player;
  main.append(
    h('div', { class: 'panel' }, dl),
    h('h2', null, 'Recording'),
    s.hasRecording
      ? h('div', null, (player = playback(s, src)).el, h('p', null, h('a', { href: src, download: '' }, 'Download the recording')))
      : h('p', { class: 'muted' }, 'This session was not recorded.'),
  );
  if (s.storesDetections) {
    const base = `/api/v1/live-sessions/${s.id}/detections`;
    main.append(h('p', null, 'Detections: ', h('a', { href: `${base}?format=csv`, download: '' }, 'CSV'), ' · ', h('a', { href: `${base}?format=ndjson`, download: `lookout-${s.id}.ndjson` }, 'NDJSON')));
  }
  if (s.state !== 'live') {
    const del = h('button', { type: 'button', class: 'danger' }, 'Delete session, recording and detections');
    del.addEventListener('click', async () => {
      if (!window.confirm('Delete this session, its recording and its stored detections? This cannot be undone.')) return;
      try {
        await api('DELETE', `/live-sessions/${s.id}`);
        location.hash = '#/history';
      } catch (err) {
        box.show(err);
      }
    });
    main.append(h('p', { class: 'actions' }, del));
  }
  return () => player?.stop();
}
