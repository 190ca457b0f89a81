// An answer's PARAMS as form fields: numbers as number inputs, strings as
// text, booleans as check boxes, lists as comma lists, anything else as
// JSON; read back into an object of the same shapes.

import { h } from './dom.js';

function kind(v) {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'number') ? 'numbers' : v.every((x) => typeof x === 'string') ? 'strings' : 'json';
  return 'json';
}

const HINT = {
  number: 'a number',
  string: 'text',
  boolean: '',
  numbers: 'numbers, separated by commas',
  strings: 'values, separated by commas',
  json: 'JSON',
};

// field ids are made of the key: only characters an id may hold
const idOf = (prefix, key, n) => `${prefix}-${n}-${key.replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function buildParamFields(params, prefix = 'param') {
  const fields = [];
  Object.entries(params || {}).forEach(([key, value], n) => {
    const k = kind(value);
    const id = idOf(prefix, key, n);
    const hintId = `${id}-hint`;
    const errId = `${id}-error`;
    let input;
    if (k === 'number') {
      input = h('input', { id, type: 'number', step: 'any', value: String(value), required: true });
    } else if (k === 'boolean') {
      input = h('input', { id, type: 'checkbox' });
      input.checked = value;
    } else if (k === 'string') {
      input = h('input', { id, type: 'text', value, spellcheck: 'false' });
    } else if (k === 'numbers' || k === 'strings') {
      input = h('input', { id, type: 'text', value: value.join(', '), spellcheck: 'false' });
    } else {
      input = h('input', { id, type: 'text', value: JSON.stringify(value), spellcheck: 'false' });
    }
    input.dataset.key = key;
    input.dataset.kind = k;
    input.name = key;
    if (HINT[k]) input.setAttribute('aria-describedby', `${hintId} ${errId}`);
    else input.setAttribute('aria-describedby', errId);
    fields.push(h('div', { class: `field field-${k}` },
      k === 'boolean' ? [input, h('label', { for: id }, h('code', { text: key }))] : [h('label', { for: id }, h('code', { text: key })), input],
      HINT[k] ? h('span', { id: hintId, class: 'hint', text: HINT[k] }) : null,
      h('span', { id: errId, class: 'field-error', 'aria-live': 'polite' })));
  });
  return fields;
}

// {params} or {errors: [{input, message}]}
export function readParamFields(container) {
  const params = {};
  const errors = [];
  for (const input of container.querySelectorAll('input[data-key]')) {
    const { key, kind: k } = input.dataset;
    const raw = input.value.trim();
    let value;
    let problem = null;
    if (k === 'number') {
      value = Number(raw);
      if (raw === '' || !Number.isFinite(value)) problem = 'must be a number';
    } else if (k === 'boolean') {
      value = input.checked;
    } else if (k === 'string') {
      value = input.value;
    } else if (k === 'numbers') {
      value = raw === '' ? [] : raw.split(',').map((x) => Number(x.trim()));
      if (raw !== '' && raw.split(',').some((x) => x.trim() === '' || !Number.isFinite(Number(x.trim())))) problem = 'must be numbers separated by commas';
    } else if (k === 'strings') {
      value = raw === '' ? [] : raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
    } else {
      try {
        value = JSON.parse(raw);
      } catch {
        problem = 'must be JSON';
      }
    }
    const err = document.getElementById(`${input.id}-error`);
    if (problem) {
      input.setAttribute('aria-invalid', 'true');
      if (err) err.textContent = `${key} ${problem}`;
      errors.push({ input, message: `${key} ${problem}` });
    } else {
      input.removeAttribute('aria-invalid');
      if (err) err.textContent = '';
      params[key] = value;
    }
  }
  return errors.length ? { errors } : { params };
}
