// The studio in a real browser (Debian's Chromium, driven by playwright-core), three people
// in three browser contexts (separate cookies):
// 1. client ana logs in on the login page, sets her webhook, uploads stems ticking the needs
//    streaming, CD and vinyl, "correct the stems" and two formats, and waits for revision 1;
// 2. engineer eve logs in, reads the order, adds a compressor to the bass stem and removes it,
//    adds an EQ bell, sets it to 200 Hz and -3 dB, and renders revision 2 with a note;
// 3. ana compares revision 1, revision 2 and the original (the stems' sum) at equal loudness,
//    approves revision 2, and downloads the zip;
// 4. client bo logs in and sees no project, and the job page is 404 for him.
//
// Usage: node studio.mjs BASE_URL DOWNLOAD_DIR SHOT_PREFIX STEM_FILE...
// Prints one JSON line with what each step saw.
import { chromium } from 'playwright-core';

const [base, downloads, shots, ...stems] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
});

async function loggedIn(name, password) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', e => { console.error(name + ': page error:', e.message, e.stack); process.exitCode = 2; });
  const first = await page.goto(base + '/');
  if (first.status() !== 401) throw new Error('not asked to log in: ' + first.status());
  await page.fill('#username', name);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('#login button')]);
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Logged in'));
  // The project list is drawn after the account bar (or stays hidden when there is none).
  await page.waitForLoadState('networkidle');
  return page;
}

const out = {};
try {
  // 1. The client's order.
  const ana = await loggedIn('ana', 'ana-password');
  out.ana_who = await ana.textContent('#who');
  await ana.check('input[name=kind][value=stems]');
  await ana.setInputFiles('#files', stems);
  // Her webhook, set on the page (nothing listens there: only the answer is checked).
  await ana.click('#notify summary');
  await ana.fill('#hook_url', 'http://127.0.0.1:9/lathe-hook');
  await ana.click('#hook_save');
  await ana.waitForFunction(() => document.getElementById('hook_msg').textContent.includes('whsec_'));
  out.hook_msg = await ana.textContent('#hook_msg');
  // Needs: streaming (ticked already), CD (which ticks the CD WAV) and vinyl.
  await ana.check('input.need[value=cd]');
  await ana.check('input.need[value=vinyl]');
  out.cd_format_ticked = await ana.isChecked('input.fmt[value="wav:16@44100"]');
  out.need_hint = await ana.textContent('#need_hint');
  await ana.check('#assist');
  await ana.check('input.fmt[value="wav:24"]');
  await ana.check('input.fmt[value="mp3:320@44100"]');
  await ana.click('#go');
  await ana.waitForURL(/\/jobs\/[0-9a-f]{32}$/, { timeout: 60000 });
  const job = ana.url().split('/').pop();
  out.job = job;
  await ana.waitForSelector('#rev1', { timeout: 240000 });
  await ana.waitForFunction(() => document.querySelector('#rev1 td:nth-child(2)').textContent === 'done', null, { timeout: 240000 });

  // 2. The engineer's revision.
  const eve = await loggedIn('eve', 'eve-password');
  out.eve_projects = await eve.$$eval('#project_list tr', rows => rows.length - 1);
  await eve.goto(base + '/jobs/' + job);
  await eve.waitForSelector('#engineer:not([hidden])', { timeout: 60000 });
  // The order as the client ticked it.
  out.eve_order = await eve.$$eval('#order tr', rows => Object.fromEntries(rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])));
  // The bass stem's fieldset: a compressor added and taken out again, then a bell added and
  // its frequency and gain set.
  const bass = eve.locator('#editor fieldset[data-stem="bass"]');
  const processors = () => eve.locator('#editor fieldset[data-stem="bass"] fieldset[data-chain] > fieldset').count();
  const before = await processors();
  await bass.locator('select.add').selectOption('compressor');
  const added = await processors();
  await eve.locator('#editor fieldset[data-stem="bass"] fieldset[data-chain] > fieldset').last().locator('button.remove').first().click();
  out.eve_chain_counts = [before, added, await processors()];
  await bass.locator('select.add').selectOption('EQ bell');
  for (const [key, value] of [['freq_hz', '200'], ['gain_db', '-3']]) {
    const input = eve.locator(`#editor fieldset[data-stem="bass"] fieldset[data-chain] input[data-key="${key}"]`).last();
    await input.fill(value);
    await input.dispatchEvent('change');
  }
  await eve.fill('#rev_note', 'less boom on the bass');
  await eve.screenshot({ path: shots + '-engineer.png', fullPage: true });
  await eve.click('#render');
  await eve.waitForFunction(() => document.getElementById('rev2') || document.getElementById('eng_msg').textContent, null, { timeout: 60000 });
  if (!(await eve.$('#rev2')) && !(await eve.textContent('#eng_msg')).includes('queued'))
    throw new Error('the revision was refused: ' + await eve.textContent('#eng_msg'));
  await eve.waitForSelector('#rev2', { timeout: 60000 });
  await eve.waitForFunction(() => document.querySelector('#rev2 td:nth-child(2)').textContent === 'done', null, { timeout: 240000 });
  out.eve_msg = await eve.textContent('#eng_msg');

  // 3. The client compares, approves and downloads.
  await ana.reload();
  await ana.waitForSelector('#compare:not([hidden])', { timeout: 60000 });
  out.compare_options = await ana.$$eval('#cmp_a option', os => os.map(o => o.textContent));
  const heard = [];
  for (const [a, b] of [['original', 'revision 2'], ['revision 1', 'revision 2']]) {
    await ana.selectOption('#cmp_a', { label: a });
    await ana.selectOption('#cmp_b', { label: b });
    await ana.click('#cmp_play');
    const playing = [await ana.getAttribute('#cmp_switch', 'data-playing')];
    await ana.click('#cmp_switch');
    playing.push(await ana.getAttribute('#cmp_switch', 'data-playing'));
    heard.push({ playing, gains: await ana.evaluate(() => window.cmpGains) });
  }
  out.heard = heard;
  await ana.selectOption('#approve_rev', '2');
  await ana.fill('#approve_comment', 'perfect');
  await ana.click('#approve');
  await ana.waitForFunction(() => document.getElementById('client_msg').textContent.includes('approved revision 2'));
  await ana.waitForFunction(() => document.getElementById('approved').textContent.includes('revision 2'));
  const [download] = await Promise.all([ana.waitForEvent('download'), ana.click('#zip')]);
  out.zip = download.suggestedFilename();
  await download.saveAs(downloads + '/' + out.zip);
  await ana.screenshot({ path: shots + '-client.png', fullPage: true });

  // 4. Another client sees nothing of it.
  const bo = await loggedIn('bo', 'bo-password');
  out.bo_projects = await bo.$$eval('#project_list tr', rows => rows.length);
  out.bo_job_status = (await bo.goto(base + '/jobs/' + job)).status();
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
