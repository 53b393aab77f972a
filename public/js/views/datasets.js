// Datasets: the list, and one dataset with its files, uploads (drag and drop or pick) and a job launcher.
import { api, upload } from '../api.js';
import { bytes, cardTable, errorBox, fill, fillList, h, onSubmit, tokens, when } from '../dom.js';
import { pipelineControls, splitModels } from './pipeline-controls.js';

const ACCEPT = 'image/jpeg,image/png,image/webp,video/mp4,video/webm,video/x-matroska,video/quicktime,video/x-msvideo,.mkv,.avi,.mov,.zip,application/zip';

export async function render(main, ctx, { params }) {
  if (params[0]) return renderOne(main, ctx, params[0]);
  document.title = 'Datasets · Lookout';
  const box = errorBox();
  const listEl = h('div', { class: 'table-wrap' });
  const form = h(
    'form',
    { class: 'panel row', 'aria-label': 'New dataset' },
    h('label', null, 'Name', h('input', { name: 'name', required: true, maxlength: 200, placeholder: 'e.g. Street cameras' })),
    h('label', null, 'Tags (comma separated)', h('input', { name: 'tags', placeholder: 'outdoor, night' })),
    h('button', { type: 'submit', class: 'primary' }, 'Create dataset'),
  );
  const formBox = errorBox();
  onSubmit(form, formBox, async (data) => {
    const { dataset } = await api('POST', '/datasets', { name: String(data.get('name')).trim(), tags: parseTags(data.get('tags')) });
    ctx.navigate(`#/datasets/${dataset.id}`);
  });
  main.append(h('h1', null, 'Datasets'), form, formBox.el, box.el, listEl);

  try {
    const { datasets } = await api('GET', '/datasets');
    fillList(listEl, datasets, 'No datasets yet. Create one above, then add images, videos or zip archives to it.', () =>
      cardTable(
        ['Name', { label: 'Tags', class: 'hide-narrow' }, { label: 'Files', class: 'num' }, { label: 'Job cost', class: 'num' }, { label: 'Created', class: 'hide-narrow' }],
        datasets.map((d) =>
            h(
              'tr',
              null,
              h('td', null, h('a', { href: `#/datasets/${d.id}` }, d.name)),
              h('td', { class: 'hide-narrow' }, tagList(d.tags)),
              h('td', { class: 'num' }, d.fileCount),
              h('td', { class: 'num' }, tokens(d.tokenCost)),
              h('td', { class: 'hide-narrow nowrap' }, when(d.createdAt)),
            ),
        ),
      ),
    );
  } catch (err) {
    box.show(err);
  }
}

function parseTags(value) {
  return String(value ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

function tagList(tags) {
  return h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag' }, t)));
}

async function renderOne(main, ctx, id) {
  const box = errorBox();
  let dataset;
  let files;
  try {
    ({ dataset, files } = await api('GET', `/datasets/${encodeURIComponent(id)}`));
  } catch (err) {
    main.append(h('p', null, h('a', { href: '#/datasets' }, '← All datasets')), h('h1', null, 'Dataset'), box.el);
    box.show(err);
    return;
  }
  document.title = `${dataset.name} · Lookout`;
  const title = h('h1', null, dataset.name);
  const summary = h('p', { class: 'muted', 'data-summary': '' });
  const filesEl = h('div', { class: 'table-wrap' });

  // ---- edit: name, tags; delete
  const editBox = errorBox();
  const edit = h(
    'form',
    { class: 'row', 'aria-label': 'Edit dataset' },
    h('label', null, 'Name', h('input', { name: 'name', required: true, maxlength: 200, value: dataset.name })),
    h('label', null, 'Tags (comma separated)', h('input', { name: 'tags', value: dataset.tags.join(', ') })),
    h('button', { type: 'submit' }, 'Save'),
    h('button', { type: 'button', class: 'danger', onclick: () => void remove() }, 'Delete dataset'),
  );
  onSubmit(edit, editBox, async (data) => {
    ({ dataset } = await api('PATCH', `/datasets/${dataset.id}`, { name: String(data.get('name')).trim(), tags: parseTags(data.get('tags')) }));
    showDataset();
    editBox.el.className = 'notice';
    fill(editBox.el, 'Saved.');
    setTimeout(() => editBox.clear(), 2000);
  });
  const remove = async () => {
    if (!confirm(`Delete the dataset "${dataset.name}" and its ${dataset.fileCount} files? This cannot be undone.`)) return;
    editBox.clear();
    try {
      await api('DELETE', `/datasets/${dataset.id}`);
      ctx.navigate('#/datasets');
    } catch (err) {
      editBox.show(err);
    }
  };

  // ---- uploads
  const fileInput = h('input', { type: 'file', multiple: true, accept: ACCEPT, name: 'file' });
  const drop = h(
    'div',
    { class: 'dropzone' },
    h('strong', null, 'Drop images, videos or zip archives here'),
    h('label', { class: 'small' }, 'or choose files', fileInput),
    h('span', { class: 'muted small' }, 'JPEG, PNG, WebP; MP4, WebM, MKV, MOV, AVI; ZIP of those. The type is read from the content, not the name.'),
  );
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Uploads', 'aria-live': 'polite' });
  /** @type {File[]} */
  const queue = [];
  let uploading = false;
  const enqueue = (list) => {
    for (const f of list) queue.push(f);
    void pump();
  };
  const pump = async () => {
    if (uploading) return;
    uploading = true;
    try {
      while (queue.length > 0) await sendOne(/** @type {File} */ (queue.shift()));
    } finally {
      uploading = false;
    }
  };
  const sendOne = async (file) => {
    const bar = h('progress', { max: 1, value: 0, 'aria-label': `Upload of ${file.name}` });
    const pct = h('span', { class: 'small muted nowrap' }, 'waiting');
    const result = h('span', { class: 'result' });
    const li = h('li', { dataset: { upload: file.name } }, h('span', { class: 'name' }, `${file.name} (${bytes(file.size)})`), pct, bar, result);
    uploads.prepend(li);
    try {
      const res = await upload(`/datasets/${dataset.id}/files`, file, (sent, total) => {
        bar.max = total || 1;
        bar.value = sent;
        pct.textContent = sent >= total ? 'checking…' : `${Math.floor((100 * sent) / (total || 1))}%`;
      }).promise;
      bar.value = bar.max;
      pct.textContent = 'done';
      li.dataset.state = 'done';
      const cost = res.files.reduce((a, f) => a + f.tokenCost, 0);
      fill(
        result,
        res.files.length === 1
          ? `Added: ${describeFile(res.files[0])} · job cost ${tokens(cost)} tokens`
          : `Added ${res.files.length} files from the archive · job cost ${tokens(cost)} tokens`,
      );
      dataset = res.dataset;
      files = [...res.files, ...files];
      showDataset();
    } catch (err) {
      pct.textContent = 'failed';
      li.dataset.state = 'failed';
      result.classList.add('failed');
      result.setAttribute('role', 'alert');
      fill(result, err.message, err.code ? h('span', { class: 'code' }, ` (${err.code})`) : null);
    }
  };
  fileInput.addEventListener('change', () => {
    enqueue([...(fileInput.files ?? [])]);
    fileInput.value = '';
  });
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
  }
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    enqueue([...(e.dataTransfer?.files ?? [])]);
  });

  // ---- job launcher
  const jobBox = errorBox();
  const modelSel = h('select', { name: 'model' });
  const costLine = h('p', { 'data-cost': '' });
  const runBtn = h('button', { type: 'submit', class: 'primary' }, 'Start job');
  const track = h('input', { name: 'track', type: 'checkbox', checked: true });
  const pipelineSlot = h('div');
  let controls = null;
  const jobForm = h(
    'form',
    { class: 'panel', 'aria-label': 'Run a detection job' },
    h('h2', null, 'Run detection'),
    h('div', { class: 'row' }, h('label', null, 'Model', modelSel), h('label', { class: 'check' }, track, 'Track objects in videos'), runBtn),
    h('p', { class: 'muted small' }, 'A classifier as the model labels each whole picture (top 5) instead of finding objects.'),
    pipelineSlot,
    costLine,
    jobBox.el,
  );
  onSubmit(jobForm, jobBox, async (data) => {
    await api('POST', '/jobs', { datasetId: dataset.id, model: String(data.get('model') || '') || undefined, track: track.checked, ...(controls?.spec() ?? {}) });
    ctx.navigate('#/jobs');
  });
  api('GET', '/models').then(({ models }) => {
    const { detectors, classifiers } = splitModels(models);
    for (const m of detectors) modelSel.append(h('option', { value: m.name, selected: m.default }, m.name));
    for (const m of classifiers) modelSel.append(h('option', { value: m.name }, `${m.name} (classify whole pictures)`));
    controls = pipelineControls({ models, modelSel });
    pipelineSlot.append(controls.el);
  }, (err) => jobBox.show(err));

  const showDataset = () => {
    title.textContent = dataset.name;
    document.title = `${dataset.name} · Lookout`;
    fill(summary, `${dataset.fileCount} files · created ${when(dataset.createdAt)} `, tagList(dataset.tags));
    const images = files.filter((f) => f.kind === 'image').length;
    const frames = files.filter((f) => f.kind === 'video').reduce((a, f) => a + (f.frames ?? 0), 0);
    const balance = ctx.user?.balance ?? 0;
    runBtn.disabled = dataset.fileCount === 0;
    fill(
      costLine,
      dataset.fileCount === 0
        ? h('span', { class: 'muted' }, 'Add files first.')
        : [
            'This job costs ',
            h('strong', null, `${tokens(dataset.tokenCost)} tokens`),
            ` (${images} images, ${frames} video frames). Your balance: ${tokens(balance)}.`,
            dataset.tokenCost > balance ? h('span', { class: 'error block' }, 'Your balance is too low for this job; ask an admin for a top-up.') : null,
          ],
    );
    fillList(filesEl, files, 'No files yet.', () =>
      cardTable(
        ['Name', 'Kind', { label: 'Size', class: 'hide-narrow' }, { label: 'Cost', class: 'num' }, { label: 'Actions', hidden: true }],
        files.map((f) =>
            h(
              'tr',
              { dataset: { file: f.name } },
              h('td', null, h('a', { href: `/api/v1/datasets/${dataset.id}/files/${f.id}/content`, download: f.name }, f.name)),
              h('td', null, f.kind === 'video' ? `video, ${f.frames} frames` : 'image'),
              h('td', { class: 'hide-narrow nowrap' }, `${f.width}×${f.height}`),
              h('td', { class: 'num' }, tokens(f.tokenCost)),
              h('td', null, h('button', { type: 'button', class: 'link danger', onclick: () => void removeFile(f), 'aria-label': `Remove ${f.name}` }, 'Remove')),
            ),
        ),
      ),
    );
  };
  const removeFile = async (f) => {
    editBox.clear();
    try {
      await api('DELETE', `/datasets/${dataset.id}/files/${f.id}`);
      ({ dataset, files } = await api('GET', `/datasets/${dataset.id}`));
      showDataset();
    } catch (err) {
      editBox.show(err);
    }
  };
  // The balance shown in the cost line follows the header's.
  const offBalance = ctx.socket.on('balance', () => setTimeout(showDataset, 0));

  main.append(
    h('p', null, h('a', { href: '#/datasets' }, '← All datasets')),
    title,
    summary,
    edit,
    editBox.el,
    box.el,
    h('h2', null, 'Add files'),
    drop,
    uploads,
    jobForm,
    h('h2', null, 'Files'),
    filesEl,
  );
  showDataset();
  return () => {
    offBalance();
    queue.length = 0;
  };
}

function describeFile(f) {
  return f.kind === 'video' ? `${f.name}, video ${f.width}×${f.height}, ${f.frames} frames` : `${f.name}, image ${f.width}×${f.height}`;
}
