// Jobs: a live list (progress from the WebSocket's job events), and one job's results as a gallery.
import { api } from '../api.js';
import { cardTable, errorBox, fill, fillList, h, labelCells, tokens, when } from '../dom.js';

const ACTIVE = new Set(['queued', 'running']);
const PAGE = 50;

export async function render(main, ctx, { params }) {
  if (params[0]) return renderOne(main, ctx, params[0]);
  document.title = 'Jobs · Lookout';
  const box = errorBox();
  const tbody = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Show older jobs');
  const empty = h('p', { class: 'empty', hidden: true }, 'No jobs yet. Open a dataset and start one.');
  const table = cardTable(
    ['Dataset', { label: 'Model', class: 'hide-narrow' }, 'State', 'Progress', { label: 'Tokens', class: 'num hide-narrow' }, { label: 'Created', class: 'hide-narrow' }, { label: 'Actions', hidden: true }],
    tbody,
  );
  main.append(h('h1', null, 'Jobs'), box.el, empty, h('div', { class: 'table-wrap' }, table), more);

  /** @type {Map<string, any>} */
  const jobs = new Map();
  /** @type {Map<string, HTMLTableRowElement>} */
  const rows = new Map();
  /** @type {Map<string, string>} */
  const datasetNames = new Map();

  const rowFor = (job) => {
    const row = h(
      'tr',
      { dataset: { job: job.id, state: job.state } },
      h('td', null, datasetNames.get(job.datasetId) ? h('a', { href: `#/datasets/${job.datasetId}` }, datasetNames.get(job.datasetId)) : h('span', { class: 'muted' }, 'deleted dataset')),
      h('td', { class: 'hide-narrow' }, job.model),
      h('td', null, h('span', { class: `badge ${job.state}` }, job.state), job.error ? h('div', { class: 'small error tight' }, job.error) : null),
      h('td', { class: 'progress-cell' }, h('progress', { max: Math.max(job.progress.total, 1), value: job.progress.done, 'aria-label': 'Progress' }), h('div', { class: 'small muted' }, `${job.progress.done} / ${job.progress.total}${job.progress.total ? ` · ${Math.floor((100 * job.progress.done) / job.progress.total)}%` : ''}`)),
      h('td', { class: 'num nowrap hide-narrow' }, tokens(job.tokensCharged), h('div', { class: 'small muted' }, `of ${tokens(job.tokenCost)}`)),
      h('td', { class: 'hide-narrow nowrap' }, when(job.createdAt)),
      h(
        'td',
        null,
        h(
          'div',
          { class: 'actions' },
          h('a', { href: `#/jobs/${job.id}`, class: 'button' }, 'Results'),
          ACTIVE.has(job.state) ? h('button', { type: 'button', class: 'danger', onclick: () => void cancel(job) }, 'Cancel') : null,
        ),
      ),
    );
    return row;
  };

  const upsert = (job, { append = false } = {}) => {
    const known = jobs.get(job.id);
    // Events can pass each other with a page load: never go back in progress or from a final state.
    if (known && !ACTIVE.has(known.state) && ACTIVE.has(job.state)) return;
    if (known && known.state === job.state && known.progress.done > job.progress.done) return;
    jobs.set(job.id, job);
    const row = rowFor(job);
    const old = rows.get(job.id);
    rows.set(job.id, row);
    if (old) old.replaceWith(row);
    else if (append) tbody.append(row);
    else tbody.prepend(row);
    labelCells(table);
    empty.hidden = jobs.size > 0;
  };

  const cancel = async (job) => {
    box.clear();
    try {
      await api('DELETE', `/jobs/${job.id}`);
    } catch (err) {
      box.show(err);
    }
  };

  const loadPage = async (before) => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (before) q.set('before', before);
    const { jobs: page } = await api('GET', `/jobs?${q}`);
    for (const job of page) upsert(job, { append: true });
    more.hidden = page.length < PAGE;
    return page;
  };

  let oldest;
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await loadPage(oldest);
      oldest = page.at(-1)?.createdAt ?? oldest;
    } catch (err) {
      box.show(err);
    } finally {
      more.disabled = false;
    }
  });

  // Listen before loading: an event that arrives meanwhile is applied, and the page load never undoes it.
  const offJob = ctx.socket.on('job', (m) => upsert(m.job));
  const unsubscribe = ctx.socket.subscribe('jobs');
  try {
    const { datasets } = await api('GET', '/datasets');
    for (const d of datasets) datasetNames.set(d.id, d.name);
    const page = await loadPage();
    oldest = page.at(-1)?.createdAt;
    // The newest first: rows added by events during the load went to the top already.
    const sorted = [...jobs.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
    tbody.replaceChildren(...sorted.map((j) => /** @type {HTMLTableRowElement} */ (rows.get(j.id))));
    empty.hidden = jobs.size > 0;
  } catch (err) {
    box.show(err);
  }
  return () => {
    offJob();
    unsubscribe();
  };
}

async function renderOne(main, ctx, id) {
  const box = errorBox();
  const back = h('p', null, h('a', { href: '#/jobs' }, '← All jobs'));
  const head = h('div');
  const gallery = h('div', { class: 'gallery', 'aria-label': 'Results' });
  main.append(back, h('h1', null, 'Job results'), head, box.el, gallery);
  document.title = 'Job results · Lookout';
  let job;
  let loadedResultsFor = -1;
  let datasetName = '';

  const showHead = () => {
    fill(
      head,
      h(
        'div',
        { class: 'panel', dataset: { job: job.id, state: job.state } },
        h('p', null, datasetName ? h('a', { href: `#/datasets/${job.datasetId}` }, datasetName) : 'Dataset', ` · model ${job.model} · `, h('span', { class: `badge ${job.state}` }, job.state)),
        h('progress', { max: Math.max(job.progress.total, 1), value: job.progress.done, 'aria-label': 'Progress' }),
        h('p', { class: 'small' }, `${job.progress.done} of ${job.progress.total} items · ${tokens(job.tokensCharged)} of ${tokens(job.tokenCost)} tokens charged · created ${when(job.createdAt)}${job.finishedAt ? ` · finished ${when(job.finishedAt)}` : ''}`),
        job.error ? h('p', { class: 'error' }, job.error) : null,
        ACTIVE.has(job.state)
          ? h('button', { type: 'button', class: 'danger', onclick: () => void cancel() }, 'Cancel job')
          : h(
              'p',
              { class: 'actions' },
              h('a', { class: 'button', href: `/api/v1/jobs/${job.id}/results?format=coco`, download: '' }, 'Export COCO JSON'),
              ' ',
              h('a', { class: 'button', href: `/api/v1/jobs/${job.id}/results?format=csv`, download: '' }, 'Export CSV'),
              ' ',
              h('button', { type: 'button', class: 'danger', onclick: () => void purge() }, 'Delete job and results'),
            ),
      ),
    );
  };
  const purge = async () => {
    if (!window.confirm('Delete this job, its results and its annotated files? This cannot be undone.')) return;
    try {
      await api('DELETE', `/jobs/${job.id}?purge=true`);
      ctx.navigate('#/jobs');
    } catch (err) {
      box.show(err);
    }
  };
  const cancel = async () => {
    try {
      await api('DELETE', `/jobs/${job.id}`);
    } catch (err) {
      box.show(err);
    }
  };

  const loadResults = async () => {
    if (ACTIVE.has(job.state) || loadedResultsFor === job.progress.done) return;
    loadedResultsFor = job.progress.done;
    const { files } = await api('GET', `/jobs/${job.id}/results`);
    fillList(gallery, files, job.state === 'completed' ? 'This dataset had no files.' : 'No results.', (list) => list.map(figure));
  };

  const offJob = ctx.socket.on('job', (m) => {
    if (m.job.id !== id || !job) return;
    if (!ACTIVE.has(job.state) && ACTIVE.has(m.job.state)) return;
    job = m.job;
    showHead();
    loadResults().catch((err) => box.show(err));
  });
  const unsubscribe = ctx.socket.subscribe('jobs');
  try {
    ({ job } = await api('GET', `/jobs/${encodeURIComponent(id)}`));
    try {
      datasetName = (await api('GET', `/datasets/${job.datasetId}`)).dataset.name;
    } catch {
      // the dataset was deleted since
    }
    showHead();
    if (ACTIVE.has(job.state)) fill(gallery, h('p', { class: 'muted' }, 'Results appear here when the job finishes.'));
    await loadResults();
  } catch (err) {
    box.show(err);
  }
  return () => {
    offJob();
    unsubscribe();
  };
}

function summarise(objects) {
  const counts = new Map();
  for (const o of objects) counts.set(o.label, (counts.get(o.label) ?? 0) + 1);
  return [...counts].map(([label, n]) => `${n} ${label}`).join(', ');
}

/** "happy 97%, neutral 2%": a whole-picture classification's top labels. */
const topLabels = (cs) => cs.slice(0, 3).map((c) => `${c.label} ${Math.round(c.score * 100)}%`).join(', ');

function figure(f) {
  if (f.kind === 'image' && f.classifications) {
    return h(
      'figure',
      { dataset: { result: f.name, kind: 'image' } },
      h('a', { href: f.annotatedUrl, target: '_blank', rel: 'noopener' }, h('img', { src: f.annotatedUrl, alt: `${f.name}, classified`, loading: 'lazy' })),
      h('figcaption', null, h('strong', null, f.name), h('br'), topLabels(f.classifications)),
    );
  }
  if (f.kind === 'image') {
    const objects = f.objects ?? [];
    return h(
      'figure',
      { dataset: { result: f.name, kind: 'image' } },
      h('a', { href: f.annotatedUrl, target: '_blank', rel: 'noopener' }, h('img', { src: f.annotatedUrl, alt: `${f.name} with ${objects.length} detections drawn`, loading: 'lazy' })),
      h('figcaption', null, h('strong', null, f.name), h('br'), objects.length ? `${objects.length} found: ${summarise(objects)}` : 'Nothing found.'),
    );
  }
  const frames = f.frames ?? [];
  const all = frames.flatMap((fr) => fr.objects ?? []);
  const withObjects = frames.filter((fr) => (fr.objects ?? []).length > 0).length;
  return h(
    'figure',
    { dataset: { result: f.name, kind: 'video' } },
    h('video', { src: f.annotatedUrl, controls: true, preload: 'metadata', playsinline: true, 'aria-label': `${f.name}, annotated` }),
    h('figcaption', null, h('strong', null, f.name), h('br'), `${frames.length} frames, objects in ${withObjects}${all.length ? `: ${summarise(all)}` : ''}`, h('br'), h('a', { href: f.annotatedUrl, download: '' }, 'Download')),
  );
}
