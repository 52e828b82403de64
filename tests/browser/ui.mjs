// The web UI in a real browser (Debian's Chromium, driven by playwright-core): upload a mix
// through the page with "correct the stems" ticked, wait for the results, read the table of
// the assistant's choices, press the A/B switch, download a file, and save a screenshot of the
// results page.
//
// Usage: node ui.mjs BASE_URL MIX_FILE DOWNLOAD_DIR SCREENSHOT_PNG
// Prints one JSON line: { "job": ..., "downloaded": ..., "ab": [...], "choices": [[...]] }.
import { chromium } from 'playwright-core';

const [base, mix, downloads, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await browser.newPage({ acceptDownloads: true });
  page.on('pageerror', e => { console.error('page error:', e.message); process.exitCode = 2; });
  await page.goto(base + '/');
  await page.setInputFiles('#files', mix);
  await page.check('input.fmt[value="wav:24"]');
  await page.check('input.fmt[value="mp3:320@44100"]');
  // The distribution formats: AAC, Opus (at its 48 kHz) and hi-res FLAC.
  for (const v of ['aac:256@44100', 'opus:160@48000', 'flac:24@96000'])
    await page.check(`input.fmt[value="${v}"]`);
  await page.check('#assist');
  // A platform bundle greys out what it decides (preset, formats, versions), and unticking it
  // gives them back; this order is not a bundle.
  const platforms = await page.$$eval('input.plat', bs => bs.map(b => b.value));
  await page.check('input.plat[value="tidal"]');
  const greyed = await page.isDisabled('#preset') && await page.isDisabled('input.fmt[value="wav:24"]')
    && await page.isDisabled('#stem_masters');
  await page.uncheck('input.plat[value="tidal"]');
  const back = await page.isEnabled('#preset') && await page.isEnabled('input.fmt[value="wav:24"]');
  const bundle = { platforms, greyed, back };
  // The project's needs: every match amount and the TV version are on the page.
  for (const id of ['#m_eq', '#m_width', '#m_dynamics', '#m_loudness', '#lead', '#backing', 'input.ver[value="tv"]'])
    if (!(await page.$(id))) throw new Error('missing on the upload page: ' + id);
  await page.click('#go');
  await page.waitForURL(/\/jobs\/[0-9a-f]{32}$/, { timeout: 60000 });
  const job = page.url().split('/').pop();
  await page.waitForSelector('#result:not([hidden])', { timeout: 240000 });
  await page.waitForSelector('#files a');
  // The plots: loudness over time and spectrum, original and master (two lines each).
  await page.waitForFunction(() => document.querySelectorAll('#loud path, #spec path').length >= 4);
  const plotted = await page.$$eval('#loud path, #spec path', ps => ps.length);
  // The assistant's choices as the page shows them: stem, what was done, measured, why.
  await page.waitForSelector('#assistant:not([hidden])');
  const choices = await page.$$eval('#choices tr', rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent)));
  // Every delivered file with its measured loudness and true peak, as the page lists them.
  const levels = await page.$$eval('#levels tr', rows => rows.slice(1).map(r => [...r.cells].map(c => c.textContent)));
  // A/B: play both, switch to the original and back; the switch reports what is playing.
  await page.click('#play');
  const ab = [await page.getAttribute('#ab', 'data-playing')];
  await page.click('#ab');
  ab.push(await page.getAttribute('#ab', 'data-playing'));
  await page.click('#ab');
  ab.push(await page.getAttribute('#ab', 'data-playing'));
  const gains = await page.evaluate(() => window.abGains);
  // Download the master (the first WAV or MP3 listed).
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#files a:has-text("_master_") >> nth=0')]);
  const name = download.suggestedFilename();
  await download.saveAs(downloads + '/' + name);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ job, downloaded: name, ab, gains, plotted, choices, levels, bundle }));
} finally {
  await browser.close();
}
