// DOM helpers: elements are built with textContent, never innerHTML, so
// nothing the API returns is ever parsed as markup.

let ids = 0;

/** uid returns an id unique in the page, for label/field pairs. */
export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}

/**
 * h builds an element: attrs holds attributes, on* handlers, and `class`;
 * children are nodes, strings, or arrays of them (null and false skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** replace sets el's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * field is a labelled input (a select when options, [value, text] pairs, are
 * given): { label, name, type, value, required, hint, options }.
 * It returns the wrapper; the input is wrapper.input and field errors go in
 * wrapper.error (aria-describedby points at it).
 */
export function field({ label, name, type = 'text', value = '', required = false, hint = '', options = null, attrs = {} }) {
  const id = uid(name.replace(/\W/g, '-'));
  const errId = `${id}-error`;
  const hintId = `${id}-hint`;
  // Screen readers read the hint and the field's error after its label.
  const describedBy = hint ? `${hintId} ${errId}` : errId;
  const input = options
    ? h('select', { id, name, 'aria-describedby': describedBy, ...attrs }, options.map(([v, t]) => h('option', { value: v, selected: v === value }, t)))
    : h('input', { id, name, type, value: value ?? '', required, 'aria-describedby': describedBy, ...attrs });
  const error = h('span', { id: errId, class: 'field-error', 'data-error-for': name });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('span', { id: hintId, class: 'hint' }, hint) : null, input, error);
  wrap.input = input;
  wrap.error = error;
  return wrap;
}

/** showFieldErrors puts each problem error next to its field in form. */
export function showFieldErrors(form, problem) {
  clearFieldErrors(form);
  const rest = [];
  for (const e of problem?.errors || []) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(e.field)}"]`);
    if (slot) {
      slot.textContent = e.message;
      const input = form.querySelector(`[name="${CSS.escape(e.field)}"]`);
      input?.setAttribute('aria-invalid', 'true');
    } else {
      rest.push(`${e.field}: ${e.message}`);
    }
  }
  const first = form.querySelector('[aria-invalid="true"]');
  first?.focus();
  return rest;
}

export function clearFieldErrors(form) {
  form.querySelectorAll('.field-error').forEach((s) => { s.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
}

/** time formats an RFC 3339 time as UTC, to the second. */
export function time(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** status is a live region for messages; say() replaces its text. */
export function status(cls = 'status') {
  const el = h('p', { class: cls, role: 'status', 'aria-live': 'polite' });
  el.say = (text, kind = '') => { el.textContent = text; el.dataset.kind = kind; };
  return el;
}

/**
 * dialog opens a modal dialog with a heading and content; focus moves into
 * it and returns to the opener when it closes. Returns the dialog element.
 */
export function dialog(title, content, opener) {
  const headingId = uid('dlg');
  const dlg = h('dialog', { 'aria-labelledby': headingId, class: 'dialog' },
    h('h2', { id: headingId }, title), content);
  dlg.addEventListener('close', () => { dlg.remove(); opener?.focus(); });
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('input, select, textarea, button');
  first?.focus();
  return dlg;
}

/** debounce calls f once calls have stopped for ms. */
export function debounce(f, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => f(...args), ms); };
}
