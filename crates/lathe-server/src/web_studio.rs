//! The studio part of the job page: the revisions with their notes and files, the engineer's
//! session form (one fieldset per stem and per processor, units from the keys' names, ranges
//! checked by the browser and again by the engine; the raw TOML as the fallback), the
//! client's approval and change requests, an A/B of any two revisions and the original at
//! equal loudness, and the job's history. Plain strings (no `format!`): the page includes them.

/// The section's markup.
pub const STUDIO_HTML: &str = r#"<div id="studio" hidden>
<h2>Order</h2>
<table id="order"></table>
<h2>Revisions</h2>
<table id="revisions"></table>
<p id="approved"></p>
<div id="compare" hidden><h3>Compare at equal loudness</h3>
<p>A <select id="cmp_a"></select> B <select id="cmp_b"></select>
<button id="cmp_play">Play</button> <button id="cmp_switch" disabled>Playing: A (switch to B)</button></p>
<audio id="cmp_el_a" preload="auto"></audio><audio id="cmp_el_b" preload="auto"></audio></div>
<div id="client" hidden><h3>Your decision</h3>
<p><label>Approve revision <select id="approve_rev"></select></label>
<label>Comment <input id="approve_comment" size="40"></label> <button id="approve">Approve</button></p>
<p><label>What should change <textarea id="changes_comment" rows="2" cols="50"></textarea></label>
<button id="changes">Ask for another revision</button></p>
<p id="client_msg"></p></div>
<div id="engineer" hidden><h3>New revision</h3>
<p>Edit the latest revision's session; every stem and processor has its fields (units after
each). Add a processor to a stem with its menu.</p>
<form id="editor" novalidate></form>
<details><summary>The session as TOML (edit here instead of the form if you prefer)</summary>
<textarea id="raw" rows="16" cols="90"></textarea></details>
<p><label>Note for the client <input id="rev_note" size="50"></label>
<button id="render">Render the new revision</button></p>
<p id="eng_msg" class="error"></p></div>
<h3>History</h3><ul id="history"></ul>
</div>"#;

/// The section's script: `studio(job)` draws it from `GET /api/jobs/{id}`.
pub const STUDIO_JS: &str = r#"
let me = null, drawnFor = '', draft = null, rawDirty = false;
const UNITS = [['_dbtp', 'dBTP'], ['_lufs', 'LUFS'], ['_db_oct', 'dB/oct'], ['_db', 'dB'], ['_hz', 'Hz'], ['_ms', 'ms'], ['_s', 's']];
const unitOf = k => (UNITS.find(([s]) => k.endsWith(s)) || ['', ''])[1];
// What the engine accepts (it checks again and names the key when it refuses).
function rangeOf(k) {
  // 0 Hz is "off" for some keys (a compressor's side-chain filter).
  if (k.endsWith('_hz')) return [0, 40000];
  if (k === 'q') return [0.05, 40];
  if (k === 'ratio') return [1, 100];
  if (k.endsWith('_ms')) return [0, 5000];
  if (k === 'pan') return [-1, 1];
  if (k === 'gain_db' || k === 'makeup_db') return [-30, 30];
  return null;
}
const PROCESSORS = {
  'EQ bell': { eq: { bands: [{ kind: 'bell', freq_hz: 1000, gain_db: 0, q: 1 }] } },
  'high-pass': { eq: { bands: [{ kind: 'high_pass', freq_hz: 30, q: 0.707 }] } },
  'compressor': { compressor: { threshold_db: -18, ratio: 2, attack_ms: 10, release_ms: 150 } },
  'de-esser': { deesser: {} },
};
function setAt(obj, path, v) { let o = obj; for (const k of path.slice(0, -1)) o = o[k]; o[path[path.length - 1]] = v; }
// Names and kinds first, then the rest as the session lists them.
const FIRST = ['name', 'kind', 'file'];
const order = o => Object.entries(o).sort(([a], [b]) => (FIRST.indexOf(b) + 1) - (FIRST.indexOf(a) + 1) || 0);
function fields(box, obj, path) {
  for (const [k, v] of Array.isArray(obj) ? Object.entries(obj) : order(obj)) {
    const p = path.concat(Array.isArray(obj) ? Number(k) : k);
    if (v !== null && typeof v === 'object') {
      const fs = document.createElement('fieldset');
      const lg = document.createElement('legend');
      lg.textContent = Array.isArray(obj) ? (v.name || v.kind || Object.keys(v)[0] || '') + ' #' + (Number(k) + 1) : k;
      fs.appendChild(lg);
      if (path.length === 1 && path[0] === 'stem') fs.dataset.stem = v.name;
      fields(fs, v, p);
      if (k === 'chain') fs.dataset.chain = '';
      if (path.length === 2 && path[0] === 'stem' && k === 'chain') addMenu(fs, p);
      // A processor of a chain, or a band of an EQ, can be taken out.
      if (Array.isArray(obj) && ['chain', 'bands'].includes(path[path.length - 1])) {
        const rm = document.createElement('button'); rm.type = 'button'; rm.className = 'remove';
        rm.textContent = 'remove'; rm.onclick = () => { let o = draft; for (const q of path) o = o[q];
          o.splice(Number(k), 1); drawEditor(); };
        lg.append(' ', rm);
      }
      box.appendChild(fs); continue;
    }
    const label = document.createElement('label');
    const inp = document.createElement('input');
    inp.dataset.path = JSON.stringify(p); inp.dataset.key = k;
    if (typeof v === 'number') { inp.type = 'number'; inp.step = 'any'; inp.value = v; const r = rangeOf(k); if (r) { inp.min = r[0]; inp.max = r[1]; } }
    else if (typeof v === 'boolean') { inp.type = 'checkbox'; inp.checked = v; }
    else { inp.value = v; inp.size = 24; }
    if (k === 'file') inp.readOnly = true;
    inp.onchange = () => setAt(draft, p, inp.type === 'checkbox' ? inp.checked : inp.type === 'number' ? Number(inp.value) : inp.value);
    label.append(k + ' ', inp, ' ' + unitOf(k));
    box.appendChild(label);
  }
}
function addMenu(fs, chainPath) {
  const sel = document.createElement('select'); sel.className = 'add';
  sel.innerHTML = '<option value="">add a processor…</option>' + Object.keys(PROCESSORS).map(n => `<option>${n}</option>`).join('');
  sel.onchange = () => { if (!sel.value) return; let o = draft; for (const k of chainPath) o = o[k];
    o.push(JSON.parse(JSON.stringify(PROCESSORS[sel.value]))); drawEditor(); };
  fs.appendChild(sel);
}
function drawEditor() {
  const f = document.getElementById('editor'); f.innerHTML = '';
  // The session's stems are its `stem` array (`[[stem]]` in TOML).
  const s = { stem: draft.stem, master: draft.master };
  fields(f, s, []);
  // The form edits stems and master; the rest of the session (deliverables, title) stays.
}
async function studio(job) {
  if (!me) me = await (await fetch('/api/me')).json();
  const engineer = me.open || me.role !== 'client';
  const owner = me.open || me.name === job.owner;
  document.getElementById('studio').hidden = false;
  drawOrder(job);
  const revs = job.revisions || [];
  const t = document.getElementById('revisions');
  t.innerHTML = '<tr><th>revision</th><th>state</th><th>by</th><th>note</th><th>files</th></tr>';
  for (const r of revs) {
    const x = t.insertRow(); x.id = 'rev' + r.n;
    [String(r.n), r.state + (r.error ? ': ' + r.error : ''), r.author || '', r.note].forEach(v => x.insertCell().textContent = v);
    const c = x.insertCell();
    if (r.state === 'done') { const q = document.createElement('a'); q.href = '/api/jobs/' + id + '/revisions/' + r.n + '/report.html';
      q.textContent = 'QC report'; q.className = 'qc'; q.target = '_blank'; c.append(q, ' '); }
    for (const f of r.files) { const a = document.createElement('a'); a.href = f.url; a.download = f.name; a.textContent = f.name; c.append(a, ' '); }
  }
  document.getElementById('approved').textContent = job.approved_revision ? 'Approved: revision ' + job.approved_revision + ' (the zip holds its files)' : 'Not approved yet.';
  const h = document.getElementById('history'); h.innerHTML = '';
  for (const e of job.events || []) { const li = document.createElement('li');
    li.textContent = new Date(e.at_s * 1000).toLocaleString() + ': ' + (e.who || 'lathe') + ' ' + e.what + (e.revision ? ' (revision ' + e.revision + ')' : '') + (e.comment ? ': ' + e.comment : '');
    h.appendChild(li); }
  const done = revs.filter(r => r.state === 'done');
  const key = revs.map(r => r.n + r.state).join() + job.approved_revision + !!job.original;
  if (key === drawnFor) return;
  drawnFor = key;
  compare(job, done);
  if (owner) {
    document.getElementById('client').hidden = done.length === 0;
    document.getElementById('approve_rev').innerHTML = done.map(r => `<option value="${r.n}">${r.n}</option>`).join('');
    if (done.length) document.getElementById('approve_rev').value = done[done.length - 1].n;
  }
  const latest = revs[revs.length - 1];
  if (engineer && latest && latest.session_json && job.state !== 'queued' && job.state !== 'running') {
    document.getElementById('engineer').hidden = false;
    draft = JSON.parse(JSON.stringify(latest.session_json));
    drawEditor();
    document.getElementById('raw').value = latest.session; rawDirty = false;
  } else document.getElementById('engineer').hidden = true;
}
// What the client ordered, as the order form sent it (text only: it comes from the client).
function drawOrder(job) {
  const o = job.options || {}, rows = [['audio', job.kind === 'stems' ? 'stems' : 'stereo mix']];
  if (o.needs) rows.push(['mastering for', o.needs.join(', ')]);
  rows.push(['preset', o.preset || 'streaming']);
  if (o.target_lufs !== undefined) rows.push(['target', o.target_lufs + ' LUFS']);
  if (o.ceiling_dbtp !== undefined) rows.push(['ceiling', o.ceiling_dbtp + ' dBTP']);
  rows.push(['formats', (o.deliver || []).join(', ') || "the preset's"]);
  if (o.versions && o.versions.length) rows.push(['versions', o.versions.join(', ')]);
  if (o.assist) rows.push(['corrective stem work', 'yes']);
  if (o.match) rows.push(['reference match', o.match]);
  if (o.notes) rows.push(['notes', o.notes]);
  const t = document.getElementById('order'); t.innerHTML = '';
  for (const [k, v] of rows) { const r = t.insertRow(); r.insertCell().textContent = k; r.insertCell().textContent = v; }
}
document.getElementById('raw').oninput = () => rawDirty = true;
async function post(path, body) {
  const r = await fetch('/api/jobs/' + id + path, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf || '' }, body: JSON.stringify(body) });
  return [r.status, await r.json()];
}
document.getElementById('render').onclick = async () => {
  const msg = document.getElementById('eng_msg'); msg.textContent = '';
  const form = document.getElementById('editor');
  const bad = rawDirty ? null : [...form.querySelectorAll('input')].find(i => !i.checkValidity());
  if (bad) { form.reportValidity();
    msg.textContent = `${bad.dataset.key} is out of range (${bad.min}–${bad.max} ${unitOf(bad.dataset.key)})`; return; }
  const note = document.getElementById('rev_note').value;
  const body = rawDirty ? { session: document.getElementById('raw').value, note } : { session_json: draft, note };
  const [s, j] = await post('/revisions', body);
  if (s !== 201) { msg.textContent = j.error || ('refused: ' + s); return; }
  msg.textContent = 'revision ' + j.revision + ' is queued';
  document.getElementById('engineer').hidden = true;
  poll();
};
document.getElementById('approve').onclick = async () => {
  const n = Number(document.getElementById('approve_rev').value);
  const [s, j] = await post('/approve', { revision: n, comment: document.getElementById('approve_comment').value });
  document.getElementById('client_msg').textContent = s === 200 ? 'You approved revision ' + j.approved_revision + '.' : (j.error || s);
  poll();
};
document.getElementById('changes').onclick = async () => {
  const [s, j] = await post('/changes', { comment: document.getElementById('changes_comment').value });
  document.getElementById('client_msg').textContent = s === 200 ? 'Your request was sent to the engineer.' : (j.error || s);
  poll();
};
// A/B of any two of: the original (a mix job's upload) and each rendered revision, both
// playing all the time, each turned down to the quieter one's loudness.
let cmp = null;
function compare(job, done) {
  const opts = [];
  if (job.original) opts.push({ label: 'original', url: job.original.url, lufs: job.original.integrated_lufs });
  for (const r of done) {
    const w = r.files.find(f => f.name.endsWith('.wav') && f.name.includes('_master_'));
    if (w && r.report) opts.push({ label: 'revision ' + r.n, url: w.url, lufs: r.report.deliverables[0].measured.integrated_lufs });
  }
  window.cmpOptions = opts;
  document.getElementById('compare').hidden = opts.length < 2;
  const html = opts.map((o, i) => `<option value="${i}">${o.label}</option>`).join('');
  const a = document.getElementById('cmp_a'), b = document.getElementById('cmp_b');
  a.innerHTML = html; b.innerHTML = html; a.value = 0; b.value = Math.max(0, opts.length - 1);
}
document.getElementById('cmp_play').onclick = async () => {
  const o = window.cmpOptions, A = o[document.getElementById('cmp_a').value], B = o[document.getElementById('cmp_b').value];
  const ea = document.getElementById('cmp_el_a'), eb = document.getElementById('cmp_el_b');
  if (!cmp) { const c = new AudioContext(); cmp = { c, ga: c.createGain(), gb: c.createGain(), onA: true };
    c.createMediaElementSource(ea).connect(cmp.ga).connect(c.destination);
    c.createMediaElementSource(eb).connect(cmp.gb).connect(c.destination); }
  ea.src = A.url; eb.src = B.url;
  const quiet = Math.min(A.lufs, B.lufs);
  window.cmpGains = { a: Math.pow(10, (quiet - A.lufs) / 20), b: Math.pow(10, (quiet - B.lufs) / 20), a_lufs: A.lufs, b_lufs: B.lufs };
  cmp.onA = true; cmp.ga.gain.value = window.cmpGains.a; cmp.gb.gain.value = 0;
  const sw = document.getElementById('cmp_switch'); sw.disabled = false; sw.dataset.playing = A.label;
  sw.textContent = 'Playing: ' + A.label + ' (switch to ' + B.label + ')';
  sw.onclick = () => { cmp.onA = !cmp.onA; const [now, other] = cmp.onA ? [A, B] : [B, A];
    cmp.ga.gain.setTargetAtTime(cmp.onA ? window.cmpGains.a : 0, cmp.c.currentTime, 0.005);
    cmp.gb.gain.setTargetAtTime(cmp.onA ? 0 : window.cmpGains.b, cmp.c.currentTime, 0.005);
    sw.dataset.playing = now.label; sw.textContent = 'Playing: ' + now.label + ' (switch to ' + other.label + ')'; };
  ea.currentTime = eb.currentTime = 0; await ea.play(); await eb.play();
};
"#;

/// The upload page's account bar and project list: who is logged in (with a log-out button),
/// and the projects this account may see, newest first.
pub const ACCOUNT_HTML: &str = r#"<p id="who"></p>
<details id="notify" hidden><summary>Notifications (webhook)</summary>
<p>When a revision of one of your projects is rendered or fails, or a client approves or asks for
changes, lathe POSTs a JSON body to this URL, signed: header X-Lathe-Signature =
sha256=hex(HMAC-SHA256(secret, raw body)). Failed deliveries are retried with growing waits.</p>
<label>URL <input id="hook_url" type="url" size="50" placeholder="the http(s) URL lathe POSTs to"></label>
<button id="hook_save" type="button">Save</button> <button id="hook_off" type="button">Turn off</button>
<p id="hook_msg"></p><table id="hook_log"></table></details>
<div id="projects" hidden><h2>Projects</h2><table id="project_list"></table></div>"#;

pub const ACCOUNT_JS: &str = r#"
(async () => {
  const me = await (await fetch('/api/me')).json();
  // Every change this page asks for carries the session's CSRF token.
  window.csrf = me.csrf || '';
  const who = document.getElementById('who');
  if (!me.open) {
    who.textContent = 'Logged in as ' + me.name + ' (' + me.role + ') ';
    const b = document.createElement('button'); b.id = 'logout'; b.textContent = 'Log out';
    b.onclick = async () => { await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-Token': window.csrf } }); location.href = '/login'; };
    who.appendChild(b);
    webhook();
  }
  const jobs = (await (await fetch('/api/jobs')).json()).jobs || [];
  if (!jobs.length) return;
  const t = document.getElementById('project_list');
  t.innerHTML = '<tr><th>project</th><th>kind</th><th>state</th><th>client</th><th>ordered</th></tr>';
  for (const j of jobs) {
    const r = t.insertRow(); const a = document.createElement('a'); a.href = '/jobs/' + j.id; a.textContent = j.id.slice(0, 8);
    r.insertCell().appendChild(a);
    [j.kind, j.state, j.owner || '', new Date(j.created_s * 1000).toLocaleString()].forEach(v => r.insertCell().textContent = v);
  }
  document.getElementById('projects').hidden = false;
})();
// The caller's webhook: its URL, the last deliveries, save (the secret is shown once) and off.
async function webhook() {
  const msg = document.getElementById('hook_msg');
  const draw = async () => {
    const w = await (await fetch('/api/me/webhook')).json();
    document.getElementById('hook_url').value = w.url || '';
    const t = document.getElementById('hook_log');
    t.innerHTML = '<tr><th>event</th><th>state</th><th>attempts</th><th>last error</th></tr>';
    for (const d of w.deliveries || []) {
      const r = t.insertRow();
      [d.event, d.state, d.attempts, d.last_error || ''].forEach(v => r.insertCell().textContent = v);
    }
  };
  const send = async (method, body) => {
    const r = await fetch('/api/me/webhook', { method, body, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': window.csrf } });
    return [r.status, r.status === 204 ? {} : await r.json()];
  };
  document.getElementById('hook_save').onclick = async () => {
    const [status, j] = await send('PUT', JSON.stringify({ url: document.getElementById('hook_url').value.trim() }));
    msg.textContent = status === 200 ? 'Saved. Signing secret (copy it now, it is not shown again): ' + j.secret : (j.error || status);
    draw();
  };
  document.getElementById('hook_off').onclick = async () => {
    const [status, j] = await send('DELETE');
    msg.textContent = status === 204 ? 'Webhook off.' : (j.error || status);
    draw();
  };
  document.getElementById('notify').hidden = false;
  draw();
}
"#;
