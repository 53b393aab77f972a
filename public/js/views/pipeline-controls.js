// Pipeline options shared by the Live page and the job form: a classifier for each detection's crop, the
// detector labels to keep, a minimum score, and (on the Live page) zones drawn by clicking points on the video.
// `spec()` gives the fields as live.offer, live.configure and POST /jobs take them.
import { fill, h } from '../dom.js';

/** Models from GET /models: detectors for the model picker, classifiers for the classifier picker. */
export function splitModels(models) {
  return { detectors: models.filter((m) => (m.kind ?? 'detector') === 'detector'), classifiers: models.filter((m) => m.kind === 'classifier') };
}

/**
 * @param {{models: any[], modelSel: HTMLSelectElement, zones?: boolean, onChange?: () => void}} o
 */
export function pipelineControls({ models, modelSel, zones: withZones = false, onChange = () => undefined }) {
  const { classifiers } = splitModels(models);
  const classifierSel = h('select', { name: 'classifier' }, h('option', { value: '' }, 'None'), ...classifiers.map((c) => h('option', { value: c.name }, `${c.name} (${c.labels.length} labels)`)));
  const classesSel = h('select', { name: 'classes', multiple: true, size: 4, 'aria-describedby': 'classes-hint' });
  const minScore = h('input', { name: 'minScore', type: 'number', min: 0, max: 1, step: 0.05, placeholder: 'model default', inputmode: 'decimal' });
  const fillClasses = () => {
    const m = models.find((x) => x.name === modelSel.value) ?? models.find((x) => x.default);
    // A classifier as the model classifies whole pictures: there are no boxes to filter or classify.
    const whole = m?.kind === 'classifier';
    fill(classesSel, ...(whole ? [] : (m?.labels ?? [])).map((l) => h('option', { value: l }, l)));
    for (const c of [classifierSel, classesSel, minScore]) c.disabled = whole;
    if (whole) classifierSel.value = '';
  };
  modelSel.addEventListener('change', () => {
    fillClasses();
    onChange();
  });
  classifierSel.addEventListener('change', onChange);
  classesSel.addEventListener('change', onChange);
  minScore.addEventListener('change', onChange);
  fillClasses();

  /** Zones as the server takes them; `draft` holds the points of the zone being drawn. */
  const zones = [];
  let draft = null;
  const zoneList = h('ul', { class: 'zones', 'aria-label': 'Zones' });
  const drawBtn = h('button', { type: 'button' }, 'Draw a zone');
  const finishBtn = h('button', { type: 'button', disabled: true }, 'Finish zone');
  const clearBtn = h('button', { type: 'button', disabled: true }, 'Clear zones');
  const zoneMode = h('select', { name: 'zoneMode', 'aria-label': 'Zone mode' }, h('option', { value: 'include' }, 'count inside'), h('option', { value: 'exclude' }, 'ignore inside'));
  const showZones = () => {
    fill(zoneList, ...zones.map((z) => h('li', null, `${z.name} · ${z.mode === 'exclude' ? 'ignored' : 'counted'} · ${z.polygon.length} points`)));
    clearBtn.disabled = zones.length === 0 && !draft;
    finishBtn.disabled = !draft || draft.length < 3;
    drawBtn.textContent = draft ? 'Cancel drawing' : 'Draw a zone';
  };
  drawBtn.addEventListener('click', () => {
    draft = draft ? null : [];
    showZones();
  });
  finishBtn.addEventListener('click', () => {
    if (!draft || draft.length < 3) return;
    zones.push({ name: `zone ${zones.length + 1}`, polygon: draft, mode: zoneMode.value });
    draft = null;
    showZones();
    onChange();
  });
  clearBtn.addEventListener('click', () => {
    zones.length = 0;
    draft = null;
    showZones();
    onChange();
  });

  const el = h(
    'fieldset',
    { class: 'pipeline' },
    h('legend', null, 'Pipeline'),
    h(
      'div',
      { class: 'row' },
      h('label', null, 'Classify each box with', classifierSel),
      h('label', null, 'Keep only', classesSel),
      h('label', null, 'Minimum score', minScore),
    ),
    h('p', { id: 'classes-hint', class: 'muted small' }, 'Keep only: none selected keeps every label (Ctrl or ⌘ + click picks several).'),
    withZones
      ? h(
          'div',
          { class: 'zone-tools' },
          h('div', { class: 'row' }, drawBtn, zoneMode, finishBtn, clearBtn),
          h('p', { class: 'muted small' }, 'Draw a zone: press the button, click its corners on the video, then Finish. An object is in a zone when the bottom middle of its box is.'),
          zoneList,
        )
      : null,
  );

  return {
    el,
    /** The pipeline fields (absent ones left out). */
    spec() {
      const out = {};
      if (classifierSel.value) out.classifier = classifierSel.value;
      const classes = [...classesSel.selectedOptions].map((o) => o.value);
      if (classes.length) out.classes = classes;
      if (minScore.value !== '') out.minScore = Number(minScore.value);
      if (withZones && zones.length) out.zones = zones.map((z) => ({ ...z, polygon: z.polygon.map((p) => [...p]) }));
      return out;
    },
    /** What live.configure needs to replace everything it may change (absent fields cleared). */
    changes() {
      const s = this.spec();
      return { classifier: s.classifier ?? null, classes: s.classes ?? [], minScore: s.minScore ?? 0, zones: s.zones ?? [] };
    },
    zones: () => zones,
    draft: () => draft,
    /** A click on the video at (x, y), fractions of the picture: a corner of the zone being drawn. */
    addPoint(x, y) {
      if (!draft || draft.length >= 64) return false;
      draft.push([Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]);
      showZones();
      return true;
    },
    setDisabled(disabled, { live = false } = {}) {
      // During a session the model cannot change; the rest is sent with live.configure.
      for (const c of [classifierSel, classesSel, minScore]) c.disabled = disabled && !live;
    },
  };
}
