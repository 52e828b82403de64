//! The web pages (server-rendered HTML with a little JavaScript; nothing from a CDN) and the
//! OpenAPI document.

use axum::response::Html;
use lathe_engine::spec::platform::Platform;
use lathe_io::Format;

const STYLE: &str = r#"<style>
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
fieldset { margin: 1rem 0; border: 1px solid #ccc; border-radius: 6px; }
label { display: block; margin: .3rem 0; }
#drop { border: 2px dashed #999; border-radius: 6px; padding: 1.5rem; text-align: center; }
#drop.over { background: #eef; }
table { border-collapse: collapse; } td, th { padding: .2rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
progress { width: 100%; } .error { color: #b00; } button { font-size: 1rem; padding: .4rem 1rem; }
</style>"#;

/// The order form's format boxes, one per format lathe delivers (read from
/// [`Format::ALL`], so a new format appears here by itself), a CD-ready WAV and a hi-res
/// FLAC: lossless ones at 24 bits and the session rate, lossy ones at their default bitrate
/// at 44.1 kHz (Opus at its only rate, 48 kHz).
fn format_choices() -> String {
    let mut html = String::new();
    for f in Format::ALL {
        let name = f.name().to_uppercase();
        let (value, label) = if f.is_lossy() {
            let kbps = f.default_bitrate_kbps();
            let rate = f.only_rate_hz().unwrap_or(44_100);
            (format!("{f}:{kbps}@{rate}"), format!("{name} {kbps} kbps"))
        } else {
            (format!("{f}:24"), format!("{name} 24-bit"))
        };
        let checked = if f == Format::Wav { " checked" } else { "" };
        html += &format!(
            "<label><input type=\"checkbox\" class=\"fmt\" value=\"{value}\"{checked}> {label}</label>\n"
        );
        if f == Format::Wav {
            html += "<label><input type=\"checkbox\" class=\"fmt\" value=\"wav:16@44100\"> WAV 16-bit / CD (44.1 kHz)</label>\n";
        }
        if f == Format::Flac {
            html += "<label><input type=\"checkbox\" class=\"fmt\" value=\"flac:24@96000\"> FLAC 24-bit / 96 kHz (hi-res)</label>\n";
        }
    }
    html
}

/// The platform bundle's boxes, one per platform (read from [`Platform::ALL`]), each saying
/// what the platform gets.
fn platform_choices() -> String {
    let mut html = String::new();
    for p in Platform::ALL {
        let t = p.target();
        let files = p.deliverables(44_100).join(", ");
        html += &format!(
            "<label><input type=\"checkbox\" class=\"plat\" value=\"{}\"> {}: {} LUFS, ≤ {} dBTP ({files})</label>\n",
            p.name(),
            p.name(),
            t.integrated_lufs,
            t.true_peak_dbtp
        );
    }
    html
}

pub async fn upload_page() -> Html<String> {
    let formats = format_choices();
    let platforms = platform_choices();
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>lathe: master a mix or stems</title>{STYLE}</head><body>
<h1>lathe mastering</h1>
{account_html}
<form id="job">
<fieldset><legend>Audio</legend>
<label><input type="radio" name="kind" value="mix" checked> Stereo mix</label>
<label><input type="radio" name="kind" value="stems"> Stems</label>
<div id="drop">Drop the file(s) here, or <input type="file" id="files" multiple accept="audio/*"></div>
<table id="list"></table>
</fieldset>
<fieldset><legend>Project needs</legend>
<p>Mastering for:
<label><input type="checkbox" class="need" value="streaming" checked> Streaming (Spotify, Apple Music, YouTube: −14 LUFS, −1 dBTP)</label>
<label><input type="checkbox" class="need" value="cd"> CD (adds the 16-bit 44.1 kHz WAV, dithered)</label>
<label><input type="checkbox" class="need" value="vinyl"> Vinyl (the engineer prepares the premaster for the cutting lathe)</label>
<label><input type="checkbox" class="need" value="club"> Club / DJ (loud: −7 LUFS, −0.3 dBTP)</label>
<span id="need_hint"></span></p>
<label>Preset <select id="preset"><option>streaming</option><option>apple</option><option>loud</option><option>club</option><option>cd</option><option>broadcast</option><option>vinyl</option></select></label>
<label>Target loudness (LUFS, optional) <input id="target" type="number" step="0.1"></label>
<label>True-peak ceiling (dBTP, optional) <input id="ceiling" type="number" step="0.1"></label>
<label>Reference track (optional) <input type="file" id="reference" accept="audio/*"></label>
<label>Match amounts (0…1): EQ <input id="m_eq" class="match" type="number" min="0" max="1" step="0.05" value="1" size="4">
width <input id="m_width" class="match" type="number" min="0" max="1" step="0.05" value="1" size="4">
dynamics <input id="m_dynamics" class="match" type="number" min="0" max="1" step="0.05" value="1" size="4">
loudness <input id="m_loudness" class="match" type="number" min="0" max="1" step="0.05" value="1" size="4"></label>
<label>Notes <textarea id="notes" rows="2" cols="50"></textarea></label>
<label><input type="checkbox" id="assist"> Correct the stems (the assistant finds resonances, sibilance, masking of the vocal, mud and more on the stem that has them, and says why)</label>
</fieldset>
<fieldset><legend>Distribution and extra formats</legend>
{formats}<p>Versions (stems only): lead vocal stem <input id="lead" placeholder="vocals">
backing vocal stems <input id="backing" placeholder="backing, choir"></p>
<label><input type="checkbox" class="ver" value="instrumental"> Instrumental (every vocal out)</label>
<label><input type="checkbox" class="ver" value="acappella"> A cappella (vocals only)</label>
<label><input type="checkbox" class="ver" value="tv"> TV mix (lead vocal out, backing vocals in)</label>
<label><input type="checkbox" id="stem_masters"> Stem masters (stems only: every stem through the master's chain and gain moves; they sum to the master)</label>
<p>Or a platform bundle: each platform's own loudness, ceiling and files from one upload (instead of the preset, target, ceiling and format boxes; platforms with the same loudness share one master):</p>
{platforms}<span id="plat_hint"></span>
</fieldset>
<button id="go" type="submit">Master</button> <span id="msg" class="error"></span>
</form>
<script>
const files = [];
function show() {{
  const t = document.getElementById('list'); t.innerHTML = '';
  const stems = document.querySelector('input[name=kind]:checked').value === 'stems';
  files.forEach((f, i) => {{
    const r = t.insertRow();
    r.insertCell().textContent = f.file.name;
    const c = r.insertCell();
    if (stems) {{ const n = document.createElement('input'); n.value = f.name; n.className = 'stemname';
      n.oninput = () => f.name = n.value; c.appendChild(n); }}
  }});
}}
function add(list) {{
  const stems = document.querySelector('input[name=kind]:checked').value === 'stems';
  for (const f of list) {{
    if (!stems) files.length = 0;
    files.push({{ file: f, name: f.name.replace(/\.[^.]*$/, '') }});
  }}
  show();
}}
document.getElementById('files').onchange = e => add(e.target.files);
const drop = document.getElementById('drop');
drop.ondragover = e => {{ e.preventDefault(); drop.classList.add('over'); }};
drop.ondragleave = () => drop.classList.remove('over');
drop.ondrop = e => {{ e.preventDefault(); drop.classList.remove('over'); add(e.dataTransfer.files); }};
document.querySelectorAll('input[name=kind]').forEach(r => r.onchange = show);
// What the ticked needs mean for the master, shown before the order is sent: one master per
// order, streaming's unless only the club master is asked for; CD adds the CD-ready WAV.
function needs() {{
  const ticked = [...document.querySelectorAll('.need:checked')].map(c => c.value);
  const preset = document.getElementById('preset');
  const only = n => ticked.length === 1 && ticked[0] === n;
  preset.value = only('vinyl') ? 'vinyl' : ticked.includes('club') && !ticked.includes('streaming') ? 'club' : 'streaming';
  const cd = document.querySelector('input.fmt[value="wav:16@44100"]');
  if (cd && ticked.includes('cd')) cd.checked = true;
  const hint = [];
  if (ticked.includes('club') && ticked.includes('streaming'))
    hint.push('one master per order: the streaming master comes first, the engineer renders the club master as a revision');
  if (only('vinyl')) hint.push('the vinyl premaster: 24-bit, −14 LUFS, bass in mono, sibilance and the top octave kept in check for the cutting lathe');
  else if (ticked.includes('vinyl') || (ticked.includes('cd') && ticked.length > 1))
    hint.push('for ' + ticked.join(', ') + ' in one order, tick their platforms below (a platform bundle: one master per platform loudness)');
  document.getElementById('need_hint').textContent = hint.length ? '(' + hint.join('; ') + ')' : '';
  return ticked;
}}
document.querySelectorAll('.need').forEach(c => c.onchange = needs);
// A bundle decides the preset, target, ceiling and files, and renders no versions or stem
// masters: those controls are greyed out while a platform is ticked.
function platforms() {{
  const ticked = [...document.querySelectorAll('.plat:checked')].map(c => c.value);
  for (const el of document.querySelectorAll('#preset, #target, #ceiling, .fmt, .ver, #stem_masters'))
    el.disabled = ticked.length > 0;
  document.getElementById('plat_hint').textContent = ticked.length
    ? '(a bundle: versions and stem masters are ordered separately)' : '';
  return ticked;
}}
document.querySelectorAll('.plat').forEach(c => c.onchange = platforms);
document.getElementById('job').onsubmit = async e => {{
  e.preventDefault();
  const msg = document.getElementById('msg'); msg.textContent = '';
  if (!files.length) {{ msg.textContent = 'Add a mix or stems first.'; return; }}
  const stems = document.querySelector('input[name=kind]:checked').value === 'stems';
  const fd = new FormData();
  for (const f of files) {{
    const ext = (f.file.name.match(/\.[^.]*$/) || ['.wav'])[0];
    fd.append(stems ? 'stem' : 'mix', f.file, stems ? f.name + ext : f.file.name);
  }}
  const ref = document.getElementById('reference').files[0];
  if (ref) fd.append('reference', ref, ref.name);
  const opts = {{ preset: document.getElementById('preset').value,
    deliver: [...document.querySelectorAll('.fmt:checked')].map(c => c.value), versions: [] }};
  const num = id => {{ const v = document.getElementById(id).value; return v === '' ? undefined : Number(v); }};
  if (num('target') !== undefined) opts.target_lufs = num('target');
  if (num('ceiling') !== undefined) opts.ceiling_dbtp = num('ceiling');
  if (ref) opts.match = ['eq', 'width', 'dynamics', 'loudness'].map(k => `${{k}}=${{num('m_' + k)}}`).join(',');
  const notes = document.getElementById('notes').value; if (notes) opts.notes = notes;
  if (document.getElementById('assist').checked) opts.assist = true;
  if (stems && document.getElementById('stem_masters').checked) opts.stem_masters = true;
  const ticked = [...document.querySelectorAll('.need:checked')].map(c => c.value);
  if (ticked.length) opts.needs = ticked;
  const lead = document.getElementById('lead').value.trim();
  const backing = document.getElementById('backing').value.split(',').map(x => x.trim()).filter(x => x);
  const vocals = [lead, ...backing].filter(x => x).join(',');
  if (stems && vocals) for (const v of document.querySelectorAll('.ver:checked')) {{
    if (v.value === 'instrumental') opts.versions.push(`instrumental:mute=${{vocals}}`);
    if (v.value === 'acappella') opts.versions.push(`acappella:only=${{vocals}}`);
    if (v.value === 'tv' && lead) opts.versions.push(`tv:mute=${{lead}}`);
  }}
  const bundle = platforms();
  if (bundle.length) {{
    opts.for = bundle;
    for (const k of ['preset', 'deliver', 'target_lufs', 'ceiling_dbtp', 'versions', 'stem_masters']) delete opts[k];
  }}
  fd.append('options', new Blob([JSON.stringify(opts)], {{ type: 'application/json' }}));
  document.getElementById('go').disabled = true; msg.textContent = 'uploading…';
  const r = await fetch('/api/jobs', {{ method: 'POST', body: fd, headers: {{ 'X-CSRF-Token': window.csrf || '' }} }});
  const j = await r.json();
  if (r.status === 201) location.href = '/jobs/' + j.id;
  else {{ msg.textContent = j.error || ('upload refused: ' + r.status); document.getElementById('go').disabled = false; }}
}};
{account_js}
</script></body></html>"#,
        account_html = crate::web_studio::ACCOUNT_HTML,
        account_js = crate::web_studio::ACCOUNT_JS,
    ))
}

/// The job page: progress, then the report, the loudness-matched A/B player and downloads.
pub fn job_page(id: &str) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>lathe job {id}</title>{STYLE}</head><body>
<h1>Mastering job</h1>
<p id="state">…</p><progress id="bar" max="1" value="0"></progress>
<div id="result" hidden>
<h2>Report</h2><table id="levels"></table>
<div id="bundle" hidden><h2>Platforms</h2><table id="platforms"></table></div>
<div id="assistant" hidden><h2>Corrections: each stem's choices and why</h2><table id="choices"></table></div>
<h2>Loudness over time (short-term, LUFS)</h2><svg id="loud" width="800" height="220"></svg>
<h2>Spectrum, 1/3 octave (dB)</h2><svg id="spec" width="800" height="220"></svg>
<p><span style="color:#888">■ original</span> &nbsp; <span style="color:#06c">■ master</span></p>
<h2>Listen: original and master at equal loudness</h2>
<p><button id="ab" disabled>Playing: master (switch to original)</button> <button id="play" disabled>Play</button></p>
<audio id="orig" preload="auto" crossorigin="anonymous"></audio><audio id="mast" preload="auto" crossorigin="anonymous"></audio>
<h2>Downloads</h2><ul id="files"></ul><p><a id="zip" href="/api/jobs/{id}/zip">Everything as a zip</a></p>
</div>
{studio_html}
<p id="error" class="error"></p>
<script>
const id = '{id}';
const fmt = v => v === null || v === undefined ? '–' : Number(v).toFixed(2);
let ctx, gO, gM, showingMaster = true;
// The assistant's choices, one row each (text only: names come from the client's files).
function choices(rep) {{
  const a = rep.assistant; if (!a || !a.choices) return;
  const t = document.getElementById('choices');
  t.innerHTML = '<tr><th>stem</th><th>what was done</th><th>what was measured</th><th>why</th></tr>';
  for (const c of a.choices) {{
    const x = t.insertRow();
    [c.stem || 'master', c.processor, c.measured || '', c.reason].forEach(v => x.insertCell().textContent = v);
  }}
  document.getElementById('assistant').hidden = false;
}}
function levels(rep) {{
  const t = document.getElementById('levels');
  t.innerHTML = '<tr><th></th><th>LUFS</th><th>dBTP</th><th>LRA LU</th></tr>';
  const row = (n, l, p, r) => {{ const x = t.insertRow(); [n, fmt(l), fmt(p), fmt(r)].forEach(v => x.insertCell().textContent = v); }};
  row('input', rep.input.integrated_lufs, rep.input.true_peak_dbtp, rep.input.lra_lu);
  for (const d of rep.deliverables) row(d.path.split('/').pop(), d.measured.integrated_lufs, d.measured.true_peak_dbtp, d.measured.lra_lu);
  for (const v of [...(rep.versions || []), ...(rep.stem_masters || [])]) for (const d of v.deliverables)
    row(d.path.split('/').pop(), d.measured.integrated_lufs, d.measured.true_peak_dbtp, d.measured.lra_lu);
  if (!rep.platforms || !rep.platforms.length) return;
  const p = document.getElementById('platforms');
  p.innerHTML = '<tr><th>platform</th><th>target LUFS</th><th>ceiling dBTP</th><th>files</th><th></th></tr>';
  for (const r of rep.platforms) {{
    const x = p.insertRow();
    [r.platform, r.target.integrated_lufs, r.target.true_peak_dbtp,
     r.files.map(f => f.split('/').pop()).join(', '), r.pass ? 'ok' : 'missed'].forEach(v => x.insertCell().textContent = v);
  }}
  document.getElementById('bundle').hidden = false;
}}
// A line plot of series [{{xs, ys, color}}] into an SVG element (log x when asked).
function plot(svg, series, logx) {{
  const W = 800, H = 220, L = 40, B = 20;
  const pts = series.flatMap(s => s.xs.map((x, i) => [x, s.ys[i]])).filter(p => p[1] !== null && p[1] !== undefined);
  if (!pts.length) return;
  const fx = logx ? Math.log10 : (x => x);
  const x0 = Math.min(...pts.map(p => fx(p[0]))), x1 = Math.max(...pts.map(p => fx(p[0])));
  const y0 = Math.min(...pts.map(p => p[1])), y1 = Math.max(...pts.map(p => p[1]));
  const X = x => L + (fx(x) - x0) / Math.max(1e-9, x1 - x0) * (W - L - 5);
  const Y = y => 5 + (y1 - y) / Math.max(1e-9, y1 - y0) * (H - B - 10);
  let out = `<line x1="${{L}}" y1="${{H - B}}" x2="${{W}}" y2="${{H - B}}" stroke="gray"/>`;
  out += `<text x="0" y="12" font-size="11">${{y1.toFixed(0)}}</text><text x="0" y="${{H - B}}" font-size="11">${{y0.toFixed(0)}}</text>`;
  for (const s of series) {{
    let d = '', pen = 'M';
    s.xs.forEach((x, i) => {{ const y = s.ys[i];
      if (y === null || y === undefined) {{ pen = 'M'; return; }}
      d += `${{pen}}${{X(x).toFixed(1)}},${{Y(y).toFixed(1)}} `; pen = 'L'; }});
    out += `<path d="${{d}}" fill="none" stroke="${{s.color}}" stroke-width="1.5"/>`;
  }}
  svg.innerHTML = out;
}}
async function plots(job) {{
  const f = job.files.find(f => f.name === 'levels.json');
  if (!f) return;
  const lv = await (await fetch(f.url)).json();
  const loud = [], spec = [];
  for (const [k, color] of [['input', '#888'], ['master', '#06c']]) {{
    const c = lv[k]; if (!c) continue;
    loud.push({{ xs: c.short_term_lufs.map((_, i) => (i + 1) * c.step_s), ys: c.short_term_lufs, color }});
    spec.push({{ xs: c.spectrum_bands_hz, ys: c.spectrum_db, color }});
  }}
  plot(document.getElementById('loud'), loud, false);
  plot(document.getElementById('spec'), spec, true);
}}
function player(job) {{
  const rep = job.report;
  const wav = job.files.find(f => f.name.endsWith('.wav') && f.name.includes('_master_'));
  // The original: a mix's upload, or a stem job's preview of its unprocessed sum.
  if (!wav || !job.original) {{ document.getElementById('ab').textContent = 'the original is not ready yet'; return; }}
  const orig = document.getElementById('orig'), mast = document.getElementById('mast');
  orig.src = job.original.url; mast.src = wav.url;
  const mastLufs = rep.deliverables[0].measured.integrated_lufs, inLufs = job.original.integrated_lufs;
  const ab = document.getElementById('ab'), play = document.getElementById('play');
  ab.disabled = false; play.disabled = false;
  play.onclick = async () => {{
    if (!ctx) {{
      ctx = new AudioContext();
      gO = ctx.createGain(); gM = ctx.createGain();
      ctx.createMediaElementSource(orig).connect(gO).connect(ctx.destination);
      ctx.createMediaElementSource(mast).connect(gM).connect(ctx.destination);
      // Both at the quieter one's loudness: the louder one is turned down by the difference.
      const d = mastLufs - inLufs;
      gM.gain.value = d > 0 ? Math.pow(10, -d / 20) : 1;
      gO.gain.value = 0;
      window.abGains = {{ original: d < 0 ? Math.pow(10, d / 20) : 1, master: gM.gain.value }};
    }}
    orig.currentTime = mast.currentTime = 0; await orig.play(); await mast.play();
  }};
  ab.onclick = () => {{
    if (!ctx) return;
    showingMaster = !showingMaster;
    // Both play all the time: switching moves only the gains, so there is no gap.
    gM.gain.setTargetAtTime(showingMaster ? window.abGains.master : 0, ctx.currentTime, 0.005);
    gO.gain.setTargetAtTime(showingMaster ? 0 : window.abGains.original, ctx.currentTime, 0.005);
    ab.textContent = showingMaster ? 'Playing: master (switch to original)' : 'Playing: original (switch to master)';
    ab.dataset.playing = showingMaster ? 'master' : 'original';
  }};
  ab.dataset.playing = 'master';
}}
async function poll() {{
  const r = await fetch('/api/jobs/' + id);
  if (r.status !== 200) {{ document.getElementById('error').textContent = 'no such job'; return; }}
  const j = await r.json();
  const rev = (j.revisions || []).length > 1 ? ' (revision ' + j.revision + ')' : '';
  document.getElementById('state').textContent = j.state + rev + (j.stage ? ': ' + j.stage : '');
  document.getElementById('bar').value = j.progress;
  studio(j);
  if (j.state === 'failed') {{ document.getElementById('error').textContent = j.error; return; }}
  if (j.state !== 'done') {{ setTimeout(poll, 500); return; }}
  document.getElementById('error').textContent = '';
  document.getElementById('result').hidden = false;
  if (j.report) {{ levels(j.report); choices(j.report); }}
  const ul = document.getElementById('files'); ul.innerHTML = '';
  for (const f of j.files) {{ const li = document.createElement('li'); const a = document.createElement('a');
    a.href = f.url; a.textContent = f.name + ' (' + (f.bytes / 1e6).toFixed(1) + ' MB)'; a.download = f.name; li.appendChild(a); ul.appendChild(li); }}
  player(j);
  plots(j);
}}
{studio_js}
poll();
</script></body></html>"#,
        studio_html = crate::web_studio::STUDIO_HTML,
        studio_js = crate::web_studio::STUDIO_JS,
    )
}

pub const OPENAPI_JSON: &str = r##"{
  "openapi": "3.0.3",
  "info": { "title": "lathe serve", "version": "0.1.0",
            "description": "Upload a mix or stems, poll the job, download the masters and the report." },
  "paths": {
    "/api/jobs": {
      "post": {
        "summary": "Create a mastering job",
        "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": {
          "type": "object",
          "properties": {
            "mix": { "type": "string", "format": "binary", "description": "a stereo mix (or stems, not both)" },
            "stem": { "type": "array", "items": { "type": "string", "format": "binary" },
                      "description": "one part per stem; the file name (without extension) names the stem" },
            "reference": { "type": "string", "format": "binary", "description": "a reference track to match" },
            "options": { "$ref": "#/components/schemas/Options" },
            "session": { "type": "string", "description": "a session TOML whose stems' file names name uploaded stems" }
          } } } } },
        "responses": {
          "201": { "description": "queued", "content": { "application/json": { "schema": {
            "type": "object", "properties": { "id": { "type": "string" } } } } } },
          "400": { "description": "not audio, bad options, or a malformed upload", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "413": { "description": "the upload exceeds --max-upload-mb", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "403": { "description": "sent from another origin", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "408": { "description": "the upload stalled", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "421": { "description": "a host name this service does not answer to", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "503": { "description": "too many uploads at once; retry after the Retry-After seconds", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
        }
      }
    },
    "/api/jobs/{id}": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "get": { "summary": "A job's state, progress, report and files",
        "responses": { "200": { "description": "the job", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Job" } } } },
                       "404": { "description": "no such job" } } },
      "delete": { "summary": "Delete a finished or queued job and its files",
        "responses": { "204": { "description": "deleted" }, "403": { "description": "sent from another origin" }, "404": { "description": "no such job" }, "409": { "description": "the job is running" } } }
    },
    "/api/jobs/{id}/files/{name}": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                      { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "get": { "summary": "Download one delivered file (a name from the job's files)",
        "responses": { "200": { "description": "the file" }, "404": { "description": "no such file" } } }
    },
    "/api/jobs/{id}/zip": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "get": { "summary": "Every delivered file of a finished job as one zip",
        "responses": { "200": { "description": "application/zip" }, "404": { "description": "no finished job" } } }
    },
    "/api/jobs/{id}/input": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "get": { "summary": "The uploaded mix, or a stem job's preview of its unprocessed sum (the A/B's original)", "responses": { "200": { "description": "audio" }, "404": { "description": "not there (yet)" } } }
    },
    "/api/me/webhook": {
      "get": { "summary": "The caller's webhook URL and its newest deliveries (event, state, attempts, last_status, last_error)", "responses": { "200": { "description": "{url, created_s, deliveries}" }, "404": { "description": "the service has no accounts" } } },
      "put": { "summary": "Set the caller's webhook: JSON {url}; answers the signing secret once. Events: revision.rendered, revision.failed, job.approved, job.changes_requested, on every project the caller may see; body signed in X-Lathe-Signature: sha256=hex(HMAC-SHA256(secret, body)); retried with exponential backoff", "responses": { "200": { "description": "{url, secret}" }, "400": { "description": "not an http(s) URL" } } },
      "delete": { "summary": "Turn the caller's webhook off", "responses": { "204": { "description": "off" }, "404": { "description": "none was set" } } }
    },
    "/api/me": {
      "get": { "summary": "Who the service takes the caller for: name, role, open (no accounts), csrf (a browser session's token for X-CSRF-Token)", "responses": { "200": { "description": "the caller" } } }
    },
    "/api/jobs/{id}/revisions": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "post": { "summary": "Render a new revision (engineers): JSON {session: TOML | session_json: object, note}; files named as the job's uploads",
        "responses": { "201": { "description": "{revision}" }, "400": { "description": "the session is refused (the message names why)" }, "403": { "description": "a client" }, "409": { "description": "a revision is queued or rendering" } } }
    },
    "/api/jobs/{id}/revisions/{n}/files/{name}": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
                      { "name": "n", "in": "path", "required": true, "schema": { "type": "integer" } },
                      { "name": "name", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "get": { "summary": "One file of a rendered revision", "responses": { "200": { "description": "the file" }, "404": { "description": "no such file" } } }
    },
    "/api/jobs/{id}/approve": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "post": { "summary": "The owning client approves a rendered revision: JSON {revision, comment}", "responses": { "200": { "description": "{approved_revision}" }, "403": { "description": "not the owner" }, "409": { "description": "not rendered" } } }
    },
    "/api/jobs/{id}/changes": {
      "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
      "post": { "summary": "The owning client asks for another revision: JSON {comment}", "responses": { "200": { "description": "recorded" }, "403": { "description": "not the owner" } } }
    }
  },
  "components": { "schemas": {
    "Options": { "type": "object", "additionalProperties": false, "properties": {
      "preset": { "type": "string", "enum": ["streaming", "apple", "loud", "club", "cd", "broadcast", "vinyl", "none"] },
      "target_lufs": { "type": "number" }, "ceiling_dbtp": { "type": "number" },
      "deliver": { "type": "array", "items": { "type": "string" }, "example": ["wav:24", "wav:16@44100", "mp3:320"] },
      "versions": { "type": "array", "items": { "type": "string" }, "example": ["instrumental:mute=vocals"] },
      "amount": { "type": "number", "minimum": 0, "maximum": 1, "description": "with a reference: EQ, width and dynamics amount" },
      "match": { "type": "string", "example": "eq=0.7,width=0.5,loudness=1,dynamics=0.5", "description": "with a reference: amounts per aspect, as --match" },
      "reference_weights": { "type": "array", "items": { "type": "number" }, "description": "with references: one weight each" },
      "max_boost_db": { "type": "number" }, "max_cut_db": { "type": "number" },
      "assist": { "type": "boolean", "description": "the assistant: each stem's corrective chain (resonances, sibilance, masking of the vocal keyed on it, kick and bass, mud, harshness, rumble, dynamics) and the master's high-pass and glue, chosen from measurements; the report's assistant.choices say why" },
      "title": { "type": "string" }, "artist": { "type": "string" }, "isrc": { "type": "string" }, "notes": { "type": "string" },
      "for": { "type": "array", "items": { "type": "string", "enum": ["spotify", "apple", "youtube", "tidal", "soundcloud", "cd", "vinyl", "broadcast"] }, "description": "a platform bundle: each platform's loudness, ceiling and files (instead of preset, target_lufs, ceiling_dbtp and deliver); the report's platforms has a row each" },
      "stem_masters": { "type": "boolean", "description": "with stems: every stem through the master's chain and gain moves as well; they sum to the master" },
      "needs": { "type": "array", "items": { "type": "string", "enum": ["streaming", "cd", "vinyl", "club"] }, "description": "what the master is for, as ticked on the order form; kept for the engineer" },
      "non_finite": { "type": "string", "enum": ["refuse", "silence"], "description": "NaN or infinite samples in the uploads: refuse (default) or read as silence" } } },
    "Job": { "type": "object", "properties": {
      "id": { "type": "string" }, "state": { "type": "string", "enum": ["queued", "running", "done", "failed"] },
      "progress": { "type": "number" }, "stage": { "type": "string" }, "error": { "type": "string", "nullable": true },
      "report": { "type": "object", "nullable": true },
      "files": { "type": "array", "items": { "type": "object", "properties": {
        "name": { "type": "string" }, "bytes": { "type": "integer" }, "url": { "type": "string" } } } } } },
    "Error": { "type": "object", "properties": { "error": { "type": "string" } } }
  } }
}"##;
