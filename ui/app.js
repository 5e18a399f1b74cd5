// pxed console: a client of /api/v1/ only.  No framework, no inline
// script (the Content-Security-Policy forbids it), no innerHTML with data:
// every value goes into the page as text through h().
'use strict';

const S = { role: null, csrf: null, es: null, page: null, live: null };
const $ = (sel) => document.querySelector(sel);

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

function toast(msg, bad) {
  const d = h('div', { class: bad ? 'bad' : '' }, msg);
  $('#toast').append(d);
  setTimeout(() => d.remove(), bad ? 6000 : 3000);
}

// Times come as UTC (ISO or unix ms); they are shown in the browser's zone.
function when(t) {
  if (t === null || t === undefined || t === '') return '-';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toLocaleString();
}

class ApiError extends Error {
  constructor(status, data) {
    super((data && data.detail) || ('HTTP ' + status));
    this.status = status;
    this.data = data || {};
  }
}

async function api(method, path, body, type) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') {
    opts.headers['X-CSRF-Token'] = S.csrf || '';
    if (body !== undefined) {
      opts.headers['Content-Type'] = type || 'application/json';
      opts.body = type ? body : JSON.stringify(body);
    }
  }
  const r = await fetch(path, opts);
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (r.status === 401 && path !== '/api/v1/session') {
    showSignin();
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return { data, total: r.headers.get('X-Total-Count') };
}

// ---- forms: an error goes next to the field it names ----------------------

function field(form, name, label, attrs) {
  const id = form + '-' + name;
  const input = attrs && attrs.tag === 'select'
    ? h('select', { id, name }, (attrs.options || []).map((o) =>
      h('option', { value: o[0], selected: o[0] === attrs.value }, o[1])))
    : h(attrs && attrs.tag === 'textarea' ? 'textarea' : 'input',
      Object.assign({ id, name, 'aria-describedby': id + '-err' }, attrs || {}, { tag: null, options: null }));
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    h('p', { class: 'err', id: id + '-err', role: 'alert' }));
}

function formValues(form) {
  const o = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === 'checkbox') o[el.name] = el.checked;
    else if (el.value !== '') o[el.name] = el.value;
  }
  return o;
}

function clearErrors(form) {
  form.querySelectorAll('.err').forEach((e) => { e.textContent = ''; });
}

function showError(form, err) {
  const detail = err.message || String(err);
  const m = /(?:field|parameter) '([A-Za-z_]+)'/.exec(detail);
  let slot = m && form.querySelector('#' + form.id + '-' + m[1] + '-err');
  if (!slot) slot = form.querySelector('#' + form.id + '-err');
  if (slot) slot.textContent = detail; else toast(detail, true);
  if (err.data && Array.isArray(err.data.lines) && slot) {
    slot.append(h('ul', {}, err.data.lines.map((l) => h('li', {}, l))));
  }
  const input = m && form.querySelector('[name="' + m[1] + '"]');
  if (input) input.focus();
}

function makeForm(id, fields, submitLabel, onsubmit) {
  const f = h('form', { id, class: 'grid', novalidate: true }, fields,
    h('div', { class: 'field' }, h('label', {}, '\u00a0'),
      h('button', { type: 'submit', disabled: S.role !== 'admin' }, submitLabel)),
    h('p', { class: 'err', id: id + '-err', role: 'alert' }));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    try { await onsubmit(formValues(f), f); } catch (e) { showError(f, e); }
  });
  return f;
}

async function act(fn, okMsg) {
  try {
    await fn();
    if (okMsg) toast(okMsg);
    render();
  } catch (e) { toast(e.message, true); }
}

function btn(label, fn, cls) {
  return h('button', { type: 'button', class: cls || 'plain', onclick: fn,
    disabled: S.role !== 'admin' }, label);
}

function table(cols, rows, opts) {
  return h('div', { class: 'tablewrap' }, h('table', { id: opts && opts.id },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.opt ? 'opt' : null, scope: 'col' }, c.t)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', {},
      cols.map((c) => h('td', { class: (c.opt ? 'opt ' : '') + (c.cls || '') }, c.f(r))))) :
      h('tr', {}, h('td', { colspan: cols.length, class: 'hint' }, (opts && opts.empty) || 'None.')))));
}

const pill = (s) => h('span', { class: 'pill ' + s }, s.replace('_', ' '));
const link = (href, text) => h('a', { href }, text);
const enc = encodeURIComponent;

// ---- sign-in ---------------------------------------------------------------

function showSignin() {
  S.role = null;
  stopLive();
  $('#top').hidden = true;
  $('#page').replaceChildren();
  $('#signin').hidden = false;
  $('#token').focus();
}

async function signedIn(sess) {
  S.role = sess.role;
  S.csrf = sess.csrf;
  $('#signin').hidden = true;
  $('#top').hidden = false;
  $('#who').textContent = sess.role === 'admin' ? 'admin' : 'read-only';
  if (!location.hash || location.hash === '#') location.hash = '#/live';
  else render();
}

$('#signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#signin-err').textContent = '';
  try {
    const r = await api('POST', '/api/v1/session', { token: $('#token').value.trim() });
    $('#token').value = '';
    signedIn(r.data);
  } catch (e) {
    $('#signin-err').textContent = e.message;
    $('#token').focus();
  }
});

$('#signout').addEventListener('click', async () => {
  try { await api('DELETE', '/api/v1/session'); } catch (e) { /* signed out anyway */ }
  S.csrf = null;
  location.hash = '';
  showSignin();
});

// ---- pages -----------------------------------------------------------------

function stopLive() {
  if (S.es) { S.es.close(); S.es = null; }
  S.live = null;
}

function eventRow(ev, fresh) {
  const tr = h('tr', { class: fresh ? 'new' : null, 'data-outcome': ev.outcome },
    h('td', {}, when(ev.time_ms || ev.time)),
    h('td', {}, pill(ev.outcome)),
    h('td', { class: 'mono' }, ev.mac),
    h('td', {}, ev.device ? link('#/devices/' + enc(ev.device), ev.device) : h('span', { class: 'hint' }, 'unknown')),
    h('td', {}, ev.deployment || ''),
    h('td', { class: 'reason' }, ev.reason),
    h('td', { class: 'opt' }, ev.arch === null || ev.arch === undefined ? '-' : String(ev.arch)),
    h('td', { class: 'opt' }, (ev.via || '') + (ev.server ? ' @ ' + ev.server : '')));
  tr.dataset.text = (ev.mac + ' ' + (ev.device || '') + ' ' + (ev.deployment || '')).toLowerCase();
  return tr;
}

function liveFilter() {
  const L = S.live;
  const o = L.outcome.value, q = L.q.value.trim().toLowerCase();
  for (const tr of L.body.children) {
    const show = (!o || tr.dataset.outcome === o) && (!q || (tr.dataset.text || '').includes(q));
    tr.hidden = !show;
  }
}

async function pageLive(root) {
  const figs = {};
  const fig = (k, label) => { figs[k] = h('b', { id: 'count-' + k }, '…'); return h('div', { class: 'figure' }, figs[k], h('span', {}, label)); };
  const dot = h('span', { class: 'live-dot', id: 'live-dot' });
  const outcome = h('select', { id: 'live-outcome', 'aria-label': 'Outcome' },
    h('option', { value: '' }, 'all outcomes'), ['boot', 'local', 'ignore'].map((o) => h('option', { value: o }, o)));
  const q = h('input', { id: 'live-q', type: 'search', placeholder: 'MAC, device or deployment', 'aria-label': 'Filter' });
  const body = h('tbody', { id: 'live-body' });
  root.append(h('h1', {}, dot, 'Live decisions'),
    h('div', { class: 'figures' }, fig('boot', 'boot, last hour'), fig('local', 'local, last hour'),
      fig('ignore', 'not serviced, last hour'), fig('total', 'decisions, last hour')),
    h('div', { class: 'toolbar' }, h('div', {}, h('label', { for: 'live-outcome' }, 'Outcome'), outcome),
      h('div', {}, h('label', { for: 'live-q' }, 'Filter'), q)),
    h('div', { class: 'tablewrap' }, h('table', { id: 'live-table' },
      h('thead', {}, h('tr', {}, ['Time', 'Outcome', 'MAC', 'Device', 'Deployment', 'Reason'].map((t) => h('th', { scope: 'col' }, t)),
        h('th', { class: 'opt', scope: 'col' }, 'Arch'), h('th', { class: 'opt', scope: 'col' }, 'Via @ server'))),
      body)));
  S.live = { body, outcome, q, figs, counts: null };
  outcome.addEventListener('change', liveFilter);
  q.addEventListener('input', liveFilter);
  const [sum, evs] = await Promise.all([api('GET', '/api/v1/events/summary'), api('GET', '/api/v1/events?limit=100')]);
  if (!S.live || S.live.body !== body) return;
  S.live.counts = sum.data;
  for (const k of ['boot', 'local', 'ignore', 'total']) figs[k].textContent = sum.data[k];
  for (const ev of evs.data.slice().reverse()) body.append(eventRow(ev, false));
  liveFilter();
  S.es = new EventSource('/api/v1/events/stream');
  S.es.onopen = () => dot.classList.add('on');
  S.es.onerror = () => dot.classList.remove('on');
  S.es.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    const L = S.live;
    if (!L) return;
    L.body.prepend(eventRow(ev, true));
    while (L.body.children.length > 500) L.body.lastChild.remove();
    if (L.counts && L.counts[ev.outcome] !== undefined) {
      L.counts[ev.outcome]++;
      L.counts.total++;
      L.figs[ev.outcome].textContent = L.counts[ev.outcome];
      L.figs.total.textContent = L.counts.total;
    }
    liveFilter();
  };
  S.es.addEventListener('dropped', (m) => toast(JSON.parse(m.data).dropped + ' decisions missed (the page fell behind)', true));
}

const PAGE = 50;

async function pageDevices(root, params) {
  const q = params.get('q') || '', off = Number(params.get('offset') || 0);
  const search = h('input', { id: 'dev-q', type: 'search', value: q, placeholder: 'name, MAC or GUID', 'aria-label': 'Search devices' });
  let timer = null;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { location.hash = '#/devices?q=' + enc(search.value); }, 250);
  });
  const add = makeForm('dev-add', [field('dev-add', 'name', 'Name', { required: true }),
    field('dev-add', 'mac', 'MAC', { required: true, placeholder: '52:54:00:12:34:56' }),
    field('dev-add', 'guid', 'SMBIOS GUID (optional)')], 'Add device', async (v) => {
    await api('POST', '/api/v1/devices', v);
    toast('device ' + v.name + ' added');
    render();
  });
  const imp = makeForm('dev-import', [field('dev-import', 'csv', 'CSV: name,mac[,guid] per line', { tag: 'textarea' })],
    'Import', async (v) => {
      const r = await api('POST', '/api/v1/devices/import', v.csv || '', 'text/csv');
      toast(r.data.imported + ' devices imported');
      render();
    });
  const r = await api('GET', '/api/v1/devices?limit=' + PAGE + '&offset=' + off + (q ? '&q=' + enc(q) : ''));
  const total = Number(r.total || 0);
  const go = (o) => { location.hash = '#/devices?offset=' + o + (q ? '&q=' + enc(q) : ''); };
  root.append(h('h1', {}, 'Devices'),
    h('div', { class: 'toolbar' }, h('div', {}, h('label', { for: 'dev-q' }, 'Search'), search)),
    table([{ t: 'Name', f: (d) => link('#/devices/' + enc(d.name), d.name) },
      { t: 'MAC', f: (d) => h('span', { class: 'mono' }, d.mac) },
      { t: 'GUID', opt: true, f: (d) => h('span', { class: 'mono' }, d.guid || '-') },
      { t: 'Last seen', f: (d) => when(d.last_seen) },
      { t: '', cls: 'row-actions', f: (d) => btn('Delete', () => {
        if (confirm('Delete device ' + d.name + '?')) act(() => api('DELETE', '/api/v1/devices/' + enc(d.name)), 'deleted');
      }, 'danger') }], r.data, { id: 'dev-table', empty: q ? 'No device matches.' : 'No devices yet.' }),
    h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'plain', disabled: off <= 0, onclick: () => go(Math.max(0, off - PAGE)) }, 'Previous'),
      h('span', { id: 'dev-range' }, total ? (off + 1) + '–' + Math.min(off + PAGE, total) + ' of ' + total : '0'),
      h('button', { type: 'button', class: 'plain', disabled: off + PAGE >= total, onclick: () => go(off + PAGE) }, 'Next')),
    h('h2', {}, 'Add a device'), h('div', { class: 'card' }, add),
    h('h2', {}, 'Import devices'), h('div', { class: 'card' }, imp));
}

async function pageDevice(root, name) {
  const [d, evs] = await Promise.all([api('GET', '/api/v1/devices/' + enc(name) + '?detail=1'),
    api('GET', '/api/v1/events?device=' + enc(name) + '&limit=50')]);
  const dev = d.data;
  const last = evs.data.length ? evs.data[evs.data.length - 1] : null;
  const edit = makeForm('dev-edit', [field('dev-edit', 'name', 'Name', { value: dev.name }),
    field('dev-edit', 'mac', 'MAC', { value: dev.mac }), field('dev-edit', 'guid', 'SMBIOS GUID', { value: dev.guid || '' })],
  'Save', async (v) => {
    if (!v.guid) v.guid = null;
    await api('PATCH', '/api/v1/devices/' + enc(name), v);
    toast('saved');
    location.hash = '#/devices/' + enc(v.name || name);
  });
  root.append(h('h1', {}, 'Device ', dev.name),
    h('div', { class: 'card' }, h('dl', { class: 'kv' },
      h('dt', {}, 'MAC'), h('dd', { class: 'mono' }, dev.mac), h('dt', {}, 'GUID'), h('dd', { class: 'mono' }, dev.guid || '-'),
      h('dt', {}, 'Architecture'), h('dd', {}, dev.arch === null ? '-' : String(dev.arch)),
      h('dt', {}, 'Last seen'), h('dd', {}, when(dev.last_seen)), h('dt', {}, 'Created'), h('dd', {}, when(dev.created)),
      h('dt', {}, 'Last decision'), h('dd', {}, last ? [pill(last.outcome), ' ', last.reason, ' (', when(last.time_ms), ')'] : '-'))),
    h('div', { class: 'toolbar' },
      btn('Clear required deployments', () => act(async () => {
        const r = await api('POST', '/api/v1/devices/' + enc(name) + '/clear');
        toast(r.data.cleared + ' hand-out(s) cleared');
      }), ''),
      btn('Delete device', () => {
        if (confirm('Delete device ' + name + '?')) {
          api('DELETE', '/api/v1/devices/' + enc(name)).then(() => { location.hash = '#/devices'; }, (e) => toast(e.message, true));
        }
      }, 'danger')),
    h('h2', {}, 'Edit'), h('div', { class: 'card' }, edit),
    h('h2', {}, 'Collections'),
    table([{ t: 'Collection', f: (c) => link('#/collections/' + enc(c.name), c.name) }, { t: 'Members', f: (c) => c.members }],
      dev.collections || [], { empty: 'In no collection.' }),
    h('h2', {}, 'Deployments that apply'),
    table([{ t: 'Deployment', f: (x) => link('#/deployments/' + enc(x.name), x.name) }, { t: 'Purpose', f: (x) => x.purpose },
      { t: 'Target', f: (x) => x.target }, { t: 'Handed out', f: (x) => (x.handed_out ? when(x.handed_out) : 'not yet') }],
    dev.deployments || [], { id: 'dev-deps', empty: 'None.' }),
    h('h2', {}, 'Recent decisions'),
    table([{ t: 'Time', f: (e) => when(e.time_ms) }, { t: 'Outcome', f: (e) => pill(e.outcome) },
      { t: 'Deployment', f: (e) => e.deployment || '' }, { t: 'Reason', cls: 'reason', f: (e) => e.reason },
      { t: 'Via', opt: true, f: (e) => e.via }], evs.data.slice().reverse(), { empty: 'Never seen.' }));
}

async function pageCollections(root) {
  const r = await api('GET', '/api/v1/collections?limit=1000');
  const add = makeForm('col-add', [field('col-add', 'name', 'Name', { required: true })], 'Create collection', async (v) => {
    await api('POST', '/api/v1/collections', v);
    toast('collection ' + v.name + ' created');
    render();
  });
  root.append(h('h1', {}, 'Collections'),
    table([{ t: 'Name', f: (c) => link('#/collections/' + enc(c.name), c.name) }, { t: 'Members', f: (c) => c.members },
      { t: 'Created', opt: true, f: (c) => when(c.created) },
      { t: '', cls: 'row-actions', f: (c) => [btn('Clear required deployments', () => act(async () => {
        const x = await api('POST', '/api/v1/collections/' + enc(c.name) + '/clear');
        toast(x.data.cleared + ' hand-out(s) cleared');
      })), ' ', btn('Delete', () => {
        if (confirm('Delete collection ' + c.name + '?')) act(() => api('DELETE', '/api/v1/collections/' + enc(c.name)), 'deleted');
      }, 'danger')] }], r.data, { empty: 'No collections yet.' }),
    h('h2', {}, 'Create a collection'), h('div', { class: 'card' }, add));
}

async function pageCollection(root, name) {
  const r = await api('GET', '/api/v1/collections/' + enc(name));
  const col = r.data;
  const add = makeForm('mem-add', [field('mem-add', 'device', 'Device name', { required: true })], 'Add to collection', async (v) => {
    await api('POST', '/api/v1/collections/' + enc(name) + '/devices', v);
    toast(v.device + ' added');
    render();
  });
  root.append(h('h1', {}, 'Collection ', col.name),
    h('div', { class: 'toolbar' }, btn('Clear required deployments', () => act(async () => {
      const x = await api('POST', '/api/v1/collections/' + enc(name) + '/clear');
      toast(x.data.cleared + ' hand-out(s) cleared');
    }), '')),
    h('h2', {}, 'Members (' + (col.devices || []).length + ')'),
    table([{ t: 'Device', f: (d) => link('#/devices/' + enc(d.name), d.name) }, { t: 'MAC', f: (d) => h('span', { class: 'mono' }, d.mac) },
      { t: '', cls: 'row-actions', f: (d) => btn('Remove', () => act(() => api('DELETE', '/api/v1/collections/' + enc(name) + '/devices/' + enc(d.name)), 'removed'), 'danger') }],
    col.devices || [], { empty: 'No members.' }),
    h('h2', {}, 'Add a device'), h('div', { class: 'card' }, add));
}

async function pageImages(root) {
  const r = await api('GET', '/api/v1/images?limit=1000');
  const add = makeForm('img-add', [field('img-add', 'name', 'Name', { required: true }),
    field('img-add', 'kernel', 'Kernel (under the TFTP root)'), field('img-add', 'initrd', 'Initrd'),
    field('img-add', 'cmdline', 'Kernel command line'), field('img-add', 'nbp', 'Or a boot program')], 'Add image', async (v) => {
    await api('POST', '/api/v1/images', v);
    toast('image ' + v.name + ' added');
    render();
  });
  root.append(h('h1', {}, 'Images'),
    table([{ t: 'Name', f: (i) => i.name }, { t: 'Kernel / boot program', f: (i) => h('span', { class: 'mono' }, i.nbp || i.kernel || '') },
      { t: 'Initrd', opt: true, f: (i) => h('span', { class: 'mono' }, i.initrd || '') },
      { t: 'Command line', opt: true, f: (i) => h('span', { class: 'mono' }, i.cmdline || '') },
      { t: '', cls: 'row-actions', f: (i) => btn('Delete', () => {
        if (confirm('Delete image ' + i.name + '?')) act(() => api('DELETE', '/api/v1/images/' + enc(i.name)), 'deleted');
      }, 'danger') }], r.data, { empty: 'No images yet.' }),
    h('h2', {}, 'Add an image'), h('div', { class: 'card' }, add));
}

function toUtc(local) {
  if (!local) return undefined;
  const d = new Date(local);
  return isNaN(d) ? local : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function pageDeployments(root) {
  const [r, imgs] = await Promise.all([api('GET', '/api/v1/deployments?limit=1000'), api('GET', '/api/v1/images?limit=1000')]);
  const kinds = [['device', 'a device'], ['collection', 'a collection'], ['unknown_arch', 'unknown machines of an architecture']];
  const add = makeForm('dep-add', [field('dep-add', 'name', 'Name', { required: true }),
    field('dep-add', 'image', 'Image', { tag: 'select', options: imgs.data.map((i) => [i.name, i.name]) }),
    field('dep-add', 'kind', 'Target', { tag: 'select', options: kinds }),
    field('dep-add', 'target', 'Device, collection or architecture (bios, uefi-x64…)', { required: true }),
    field('dep-add', 'purpose', 'Purpose', { tag: 'select', options: [['required', 'required'], ['available', 'available']] }),
    field('dep-add', 'available_from', 'Available from (optional)', { type: 'datetime-local' }),
    field('dep-add', 'expires', 'Expires (optional)', { type: 'datetime-local' })], 'Create deployment', async (v, f) => {
    const body = { name: v.name, image: v.image, purpose: v.purpose };
    body[v.kind || 'device'] = v.target;
    if (v.available_from) body.available_from = toUtc(v.available_from);
    if (v.expires) body.expires = toUtc(v.expires);
    try {
      await api('POST', '/api/v1/deployments', body);
    } catch (e) {
      // the target's field is the form's "target"
      e.message = e.message.replace(/field '(device|collection|unknown_arch)'/, "field 'target'");
      throw e;
    }
    toast('deployment ' + v.name + ' created');
    render();
  });
  root.append(h('h1', {}, 'Deployments'),
    table([{ t: 'Name', f: (d) => link('#/deployments/' + enc(d.name), d.name) }, { t: 'Image', f: (d) => d.image },
      { t: 'Target', f: (d) => d.target }, { t: 'Purpose', f: (d) => d.purpose },
      { t: 'Enabled', f: (d) => (d.enabled ? 'yes' : 'no') },
      { t: 'Window', opt: true, f: (d) => (d.available_from || d.expires ? when(d.available_from) + ' → ' + when(d.expires) : 'always') },
      { t: '', cls: 'row-actions', f: (d) => [btn(d.enabled ? 'Disable' : 'Enable', () => act(() => api('PATCH', '/api/v1/deployments/' + enc(d.name), { enabled: !d.enabled }))), ' ',
        btn('Delete', () => {
          if (confirm('Delete deployment ' + d.name + '?')) act(() => api('DELETE', '/api/v1/deployments/' + enc(d.name)), 'deleted');
        }, 'danger')] }], r.data, { id: 'dep-table', empty: 'No deployments yet.' }),
    h('h2', {}, 'Create a deployment'), h('div', { class: 'card' }, add));
}

async function pageDeployment(root, name) {
  const r = await api('GET', '/api/v1/deployments/' + enc(name));
  const d = r.data, st = d.status || {};
  const fig = (k, label) => h('div', { class: 'figure' }, h('b', { id: 'status-' + k }, String(st[k] || 0)), h('span', {}, label));
  root.append(h('h1', {}, 'Deployment ', d.name),
    h('div', { class: 'card' }, h('dl', { class: 'kv' }, h('dt', {}, 'Image'), h('dd', {}, d.image),
      h('dt', {}, 'Target'), h('dd', {}, d.target), h('dt', {}, 'Purpose'), h('dd', {}, d.purpose),
      h('dt', {}, 'Enabled'), h('dd', {}, d.enabled ? 'yes' : 'no'),
      h('dt', {}, 'Available from'), h('dd', {}, when(d.available_from)), h('dt', {}, 'Expires'), h('dd', {}, when(d.expires)))),
    h('div', { class: 'figures' }, fig('handed_out', 'handed out'), fig('started', 'started'),
      fig('succeeded', 'succeeded'), fig('failed', 'failed')),
    h('div', { class: 'toolbar' }, btn(d.enabled ? 'Disable' : 'Enable', () => act(() => api('PATCH', '/api/v1/deployments/' + enc(name), { enabled: !d.enabled }))),
      btn('Delete', () => {
        if (confirm('Delete deployment ' + name + '?')) {
          api('DELETE', '/api/v1/deployments/' + enc(name)).then(() => { location.hash = '#/deployments'; }, (e) => toast(e.message, true));
        }
      }, 'danger')),
    h('h2', {}, 'Devices'),
    table([{ t: 'Device', f: (x) => link('#/devices/' + enc(x.device), x.device) }, { t: 'MAC', opt: true, f: (x) => h('span', { class: 'mono' }, x.mac) },
      { t: 'State', f: (x) => pill(x.state) }, { t: 'Message', f: (x) => x.message || '' },
      { t: 'Handed out', f: (x) => when(x.handed_out) }, { t: 'Updated', opt: true, f: (x) => when(x.updated) }],
    d.devices || [], { id: 'dep-devices', empty: 'Not handed out yet.' }));
}

async function pageSettings(root) {
  const r = await api('GET', '/api/v1/settings');
  const block = r.data.map((s) => '    ' + s.name + ': ' + (s.value === null ? '' : s.value)).join('\n');
  const rows = r.data.map((s) => {
    const id = 'set-' + s.section + '-' + s.name;
    const input = h('input', { id, name: s.name, value: s.value || '', disabled: s.restart || s.secret || S.role !== 'admin', 'aria-describedby': id + '-err' });
    const err = h('p', { class: 'err', id: id + '-err', role: 'alert' });
    const save = h('button', { type: 'submit', disabled: s.restart || s.secret || S.role !== 'admin' }, 'Save');
    const f = h('form', { class: 'setting', id: id + '-form' }, input, ' ', save, err);
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      try {
        await api('PUT', '/api/v1/settings', { [s.name]: input.value });
        toast(s.name + ' set');
        render();
      } catch (e) { err.textContent = e.message; input.focus(); }
    });
    return { s, f };
  });
  root.append(h('h1', {}, 'Settings'),
    h('h2', {}, 'In force'),
    table([{ t: 'Section', opt: true, f: (x) => x.s.section }, { t: 'Setting', f: (x) => h('label', { for: 'set-' + x.s.section + '-' + x.s.name }, x.s.name) },
      { t: 'Value', f: (x) => x.f }, { t: '', opt: true, f: (x) => (x.s.restart ? 'needs a restart (configuration file)' : x.s.secret ? 'secret: set in the file' : 'changes at once') }],
    rows, { id: 'settings-table' }),
    h('h2', {}, 'As pxed logs it'), h('pre', { class: 'card mono' }, 'PXE Settings:\n' + block));
}

async function pageStatus(root) {
  const [st, m] = await Promise.all([api('GET', '/api/v1/status'), fetch('/metrics', { credentials: 'same-origin' }).then((x) => x.text())]);
  const s = st.data, set = s.settings || {}, c = s.cache || {};
  const up = s.uptime_s, upText = Math.floor(up / 86400) + 'd ' + Math.floor(up % 86400 / 3600) + 'h ' + Math.floor(up % 3600 / 60) + 'm';
  const metrics = m.split('\n').filter((l) => /^pxed_(tftp|http|dhcp|decisions|event_stream|console|store)/.test(l))
    .map((l) => { const i = l.lastIndexOf(' '); return { k: l.slice(0, i), v: l.slice(i + 1) }; });
  root.append(h('h1', {}, 'Status'),
    h('div', { class: 'figures' },
      [['version', s.version], ['uptime', upText], ['devices', s.devices], ['images', s.images], ['deployments', s.deployments],
        ['HTTP connections', s.http_connections]].map(([k, v]) => h('div', { class: 'figure' }, h('b', {}, String(v)), h('span', {}, k)))),
    h('div', { class: 'card' }, h('dl', { class: 'kv', id: 'status-kv' },
      h('dt', {}, 'HTTP port'), h('dd', {}, String(set.HTTPPort)), h('dt', {}, 'HTTPS port'), h('dd', {}, set.HTTPSPort ? String(set.HTTPSPort) : 'off'),
      h('dt', {}, 'Store'), h('dd', { class: 'mono' }, set.StoreURL || ''), h('dt', {}, 'Store generation'), h('dd', {}, String(s.store_generation)),
      h('dt', {}, 'TFTP root'), h('dd', { class: 'mono' }, set.TFTPRoot || ''),
      h('dt', {}, 'Decision cache'), h('dd', {}, c.entries + ' of ' + c.max_entries + ' entries; ' + c.hits + ' hits, ' + c.misses + ' misses, ' + c.invalidations + ' invalidations'))),
    h('h2', {}, 'Figures from /metrics'),
    table([{ t: 'Metric', f: (x) => h('span', { class: 'mono' }, x.k) }, { t: 'Value', f: (x) => x.v }], metrics, { id: 'metrics-table' }));
}

// ---- routing ---------------------------------------------------------------

const routes = [
  [/^\/live$/, pageLive, 'live'], [/^\/devices$/, pageDevices, 'devices'], [/^\/devices\/(.+)$/, pageDevice, 'devices'],
  [/^\/collections$/, pageCollections, 'collections'], [/^\/collections\/(.+)$/, pageCollection, 'collections'],
  [/^\/images$/, pageImages, 'images'], [/^\/deployments$/, pageDeployments, 'deployments'],
  [/^\/deployments\/(.+)$/, pageDeployment, 'deployments'], [/^\/settings$/, pageSettings, 'settings'],
  [/^\/status$/, pageStatus, 'status'],
];

async function render() {
  if (!S.role) return;
  const hash = location.hash.replace(/^#/, '') || '/live';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  stopLive();
  const root = h('div', { id: 'page-' + (path.split('/')[1] || 'live') });
  $('#page').replaceChildren(root);
  for (const [re, fn, nav] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    document.querySelectorAll('header nav a').forEach((a) => {
      a.classList.toggle('on', a.getAttribute('href') === '#/' + nav);
      if (a.getAttribute('href') === '#/' + nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    document.title = 'pxed: ' + nav;
    try {
      await (m[1] !== undefined ? fn(root, decodeURIComponent(m[1]), params) : fn(root, params));
    } catch (e) {
      if (e.status !== 401) root.append(h('p', { class: 'err', role: 'alert' }, e.message));
    }
    return;
  }
  root.append(h('p', {}, 'No such page.'));
}

window.addEventListener('hashchange', render);

(async () => {
  try {
    const r = await api('GET', '/api/v1/session');
    if (r.data && r.data.role) signedIn(r.data); else showSignin();
  } catch (e) { showSignin(); }
})();
