// How values read on the page.

export function formatNumber(v, digits = 6) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e12)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 12 });
}

// a short text for any JSON value (the full one is in the title)
export function formatValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length <= 8 && v.every((x) => x === null || typeof x !== 'object')) return v.map(formatValue).join(', ');
    return `${v.length} items: ${v.slice(0, 5).map((x) => (typeof x === 'object' && x !== null ? JSON.stringify(x) : formatValue(x))).join(', ')}, …`;
  }
  const text = JSON.stringify(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

export function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/\+00:00$/, ' UTC');
}

export function shortId(id) {
  if (!id) return '';
  return id.length > 14 ? `${id.slice(0, 13)}…` : id;
}
