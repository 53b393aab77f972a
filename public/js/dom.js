// Small DOM and formatting helpers shared by the views.

/**
 * Builds an element: h('a', {href: '#/x', class: 'y', onclick}, 'text', child).
 * Attributes starting with "on" become listeners; `false`/null/undefined attributes are left out.
 * @param {string} tag @param {Record<string, any> | null} [attrs] @param {...any} children
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Fills `el` with `render(items)`, or with a note saying `empty` when there are no items. */
export function fillList(el, items, empty, render) {
  return fill(el, items.length === 0 ? h('p', { class: 'empty' }, empty) : render(items));
}

const tokenFormat = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 3 });
/** @param {number} n */
export const tokens = (n) => tokenFormat.format(n);

/** @param {number | null | undefined} ms */
export const ms = (ms) => (ms === null || ms === undefined ? '–' : `${Math.round(ms)} ms`);

/** @param {number} n */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
/** @param {string | null | undefined} iso */
export const when = (iso) => (iso ? dateFormat.format(new Date(iso)) : '–');

/** @param {string} startIso @param {string | null | undefined} endIso */
export function duration(startIso, endIso) {
  const s = Math.max(0, Math.round(((endIso ? Date.parse(endIso) : Date.now()) - Date.parse(startIso)) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A readable sentence for any error; API errors keep their code for support. */
export function errorText(err) {
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) return `${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** An element showing an error message (or nothing), announced to screen readers. */
export function errorBox() {
  const el = h('div', { class: 'error', role: 'alert' });
  return {
    el,
    /** @param {unknown} err */
    show(err) {
      fill(el, errorText(err), err && typeof err === 'object' && 'code' in err && err.code ? h('span', { class: 'code' }, ` (${err.code})`) : null);
    },
    clear() {
      el.replaceChildren();
    },
  };
}

/** Makes a form's submit run `fn`, with the submit button disabled meanwhile and errors shown in `box`. */
export function onSubmit(form, box, fn) {
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    buttons.forEach((b) => (b.disabled = true));
    box.clear();
    try {
      await fn(new FormData(form));
    } catch (err) {
      box.show(err);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
}

/** `<progress>` plus a "done / total" label. */
export function progressBar(done, total, label) {
  return h('progress', { max: Math.max(total, 1), value: Math.min(done, total), 'aria-label': label });
}

/**
 * Gives each body cell of a table the text of its column's header as `data-label`, for the narrow-screen
 * layout where rows become cards and the header row is hidden. Call again after adding rows.
 */
export function labelCells(table) {
  const heads = [...table.querySelectorAll('thead th')].map((th) => (th.querySelector('.sr-only') ? '' : th.textContent.trim()));
  for (const tr of table.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => {
      if (heads[i] && td.tagName === 'TD' && !td.hasAttribute('colspan')) td.dataset.label = heads[i];
    });
  }
  return table;
}

/**
 * A table that becomes one card per row on narrow screens. `columns`: a header text, or
 * `{label, class, hidden}` (`hidden`: read by screen readers only, e.g. "Actions"). `body`: a `<tbody>` the
 * caller fills later (then call labelCells again), or the rows.
 */
export function cardTable(columns, body, attrs = {}) {
  const ths = columns.map((c) => {
    const col = typeof c === 'string' ? { label: c } : c;
    return h('th', { class: col.class }, col.hidden ? h('span', { class: 'sr-only' }, col.label) : col.label);
  });
  const tbody = body instanceof HTMLElement ? body : h('tbody', null, body);
  return labelCells(h('table', { ...attrs, class: 'cards' }, h('thead', null, h('tr', null, ths)), tbody));
}

/** A `<dl>` from [term, value] pairs; a value may be an element (a `<dd>` is used as it is). */
export function definitionList(pairs, attrs = {}) {
  return h('dl', attrs, pairs.flatMap(([term, value]) => [h('dt', null, term), value instanceof HTMLElement && value.tagName === 'DD' ? value : h('dd', null, value)]));
}

/**
 * A secret shown once (an API key, a webhook's signing secret): the message, the value selected in a read-only
 * field, and a Copy button. Replaces what `where` held.
 */
export function showSecretOnce(where, message, value, label) {
  const field = h('input', { value, readonly: true, 'aria-label': label, class: 'mono key-field' });
  where.replaceChildren(
    h('div', { class: 'panel', role: 'status' }, h('p', null, ...message), h('div', { class: 'row' }, field, h('button', { type: 'button', onclick: () => void navigator.clipboard?.writeText(value) }, 'Copy'))),
  );
  field.select();
}
