#!/usr/bin/env node
// Drives pacsnode's web UI (/ui/) in headless Debian chromium the way a user would and
// reports what the pages showed, as one JSON line on stdout (the C++ test compares it with
// the database); exits 0 only if every step passed. Screenshots go to spec.out.
//
//   node tests/browser/ui_check.mjs --spec SPEC.json [--chromium /usr/bin/chromium] [--timeout S]
//
// SPEC: {base, out, user, password, patient: {id, name, search}, studies: [UID…],
//        finding: {tracking_uid, measurement}, dead_job, try_file, echo_ok, echo_fail}
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      spec: { type: 'string' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      timeout: { type: 'string', default: '30' },
    },
    strict: true,
  }));
} catch (e) {
  process.stderr.write(`ui_check: ${e.message}\n`);
  process.exit(2);
}
if (!args.spec) {
  process.stderr.write('usage: node tests/browser/ui_check.mjs --spec SPEC.json [--chromium PATH] [--timeout S]\n');
  process.exit(2);
}
const spec = JSON.parse(fs.readFileSync(args.spec, 'utf8'));
const stepMs = Number(args.timeout) * 1000;
fs.mkdirSync(spec.out, { recursive: true });
const url = (p) => new URL(p, spec.base).href;

// A hard limit per step, so that a hung browser fails the step instead of the whole run.
function withDeadline(promise, what, ms = stepMs + 15000) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms);
  });
  promise.catch(() => {});
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// A tab with the node's credentials that records console errors, uncaught exceptions and
// failed requests; `allowed` statuses (e.g. an expected 404) are not failures.
async function openPage(browser, { width = 1280, height = 900 } = {}) {
  const page = await browser.newPage();
  await page.setViewport({ width, height });
  await page.authenticate({ username: spec.user, password: spec.password });
  const seen = { errors: [], allowed: new Set() };
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (404|409)/.test(m.text())) seen.errors.push(`console: ${m.text().slice(0, 300)}`); });
  page.on('pageerror', (e) => seen.errors.push(`uncaught: ${String(e.message ?? e).slice(0, 300)}`));
  page.on('requestfailed', (r) => {
    // Navigating away cancels the previous page's requests: not a failure.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') seen.errors.push(`${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !seen.allowed.has(r.status())) seen.errors.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
  });
  return { page, seen };
}

async function ready(page) {
  await page.waitForSelector('main#page[data-state="ready"]', { timeout: stepMs });
}

// The whole page, or only its top `height` pixels (small enough for the README).
async function shot(page, name, height) {
  const file = path.join(spec.out, name);
  if (height) {
    const width = await page.evaluate(() => document.documentElement.clientWidth);
    await page.screenshot({ path: file, clip: { x: 0, y: 0, width, height } });
  } else {
    await page.screenshot({ path: file, fullPage: true });
  }
  return file;
}

const text = (page, selector) => page.$eval(selector, (el) => el.innerText);

// ---- the steps ----

async function patients(browser) {
  const { page, seen } = await openPage(browser);
  await page.goto(url('/ui/'), { waitUntil: 'domcontentloaded' });
  await ready(page);
  // The keyboard: type into the focused name field and press Enter.
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'q-name', { timeout: stepMs });
  await page.keyboard.type(spec.patient.search);
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelectorAll('#patients-table tbody tr').length === 1 &&
      document.querySelector(`#patients-table tr[data-patient-id="${id}"]`), { timeout: stepMs }, spec.patient.id);
  const row = await text(page, '#patients-table tbody tr');
  check(row.includes(spec.patient.name), `the row does not show the name: ${row}`);
  check(row.includes('3'), `the row does not show 3 studies: ${row}`);
  check(page.url().includes(`name=${spec.patient.search}`), `the search is not in the address: ${page.url()}`);
  const screenshot = await shot(page, 'patients.png');
  // The same page on a phone's width: nothing wider than the screen but the scrollable tables.
  await page.setViewport({ width: 390, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot(page, 'patients-narrow.png');
  check(overflow <= 0, `the narrow page is ${overflow} px wider than the screen`);
  // Open the patient from the table, as a user clicks.
  await page.setViewport({ width: 1280, height: 900 });
  await page.click(`#patients-table tr[data-patient-id="${spec.patient.id}"] a`);
  await page.waitForSelector('#studies-table', { timeout: stepMs });
  check(new URL(page.url()).pathname === `/ui/patients/${spec.patient.id}`, `the patient link went to ${page.url()}`);
  await page.close();
  check(seen.errors.length === 0, seen.errors.join('; '));
  return { found: true, row, screenshot, narrow_overflow: overflow };
}

async function history(browser) {
  const { page, seen } = await openPage(browser);
  // The bookmarkable address, opened directly (the server answers index.html for it).
  await page.goto(url(`/ui/patients/${encodeURIComponent(spec.patient.id)}?issuer=`), { waitUntil: 'domcontentloaded' });
  await ready(page);
  const studies = await page.$$eval('#studies-table tr.study', (trs) => trs.map((tr) => tr.dataset.studyUid));
  const timeline = await page.$$eval('ol.timeline li', (lis) => lis.length);
  const selector = `figure.finding[data-tracking-uid="${spec.finding.tracking_uid}"][data-measurement="${spec.finding.measurement}"]`;
  await page.waitForSelector(`${selector} .uplot canvas`, { timeout: stepMs });
  const figure = await page.$eval(selector, (f) => ({
    points: Number(f.dataset.points),
    title: f.querySelector('h3').innerText,
    values: [...f.querySelectorAll('tr.point')].map((tr) => ({
      study: tr.dataset.studyUid,
      value: Number(tr.dataset.value),
      text: tr.querySelector('td.value').innerText.replace(/[^0-9.eE+-]/g, ''),
      change: tr.querySelector('td.change').innerText,
    })),
    // The plot drew something: its canvas has non-background pixels.
    drawn: (() => {
      const c = f.querySelector('.uplot canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let painted = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
      return painted > 100;
    })(),
    viewer_links: [...f.querySelectorAll('tr.point a')].map((a) => a.getAttribute('href')),
  }));
  check(studies.length === spec.studies.length, `${studies.length} study rows, expected ${spec.studies.length}`);
  check(timeline === spec.studies.length, `${timeline} studies on the timeline`);
  check(figure.points === spec.studies.length, `${figure.points} points plotted, expected ${spec.studies.length}`);
  check(figure.values.length === spec.studies.length, `${figure.values.length} values listed`);
  check(figure.values[0].change === 'first', `the first value's change is ${figure.values[0].change}`);
  check(figure.viewer_links.every((h) => h.startsWith('/viewer?StudyInstanceUIDs=')), 'a point does not link to the viewer');
  check(figure.drawn, 'the plot is blank');
  const screenshot = await shot(page, 'history.png');
  await shot(page, 'history-top.png', 1050);
  await page.setViewport({ width: 390, height: 800 });
  await new Promise((r) => setTimeout(r, 300));  // the plots follow their boxes' new width
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot(page, 'history-narrow.png');
  check(overflow <= 0, `the narrow history page is ${overflow} px wider than the screen`);
  await page.setViewport({ width: 1280, height: 900 });

  // An unknown patient: the API's 404, said in words.
  seen.allowed.add(404);
  await page.goto(url('/ui/patients/NO-SUCH-PATIENT'), { waitUntil: 'domcontentloaded' });
  await ready(page);
  const error = await text(page, '.error[role="alert"]');
  check(/404/.test(error) && /NO-SUCH-PATIENT/.test(error), `the unknown patient's error says: ${error}`);
  await page.close();
  check(seen.errors.length === 0, seen.errors.join('; '));
  return { studies, points: figure.points, values: figure.values, title: figure.title, chart_drawn: figure.drawn, unknown_patient_error: error, narrow_overflow: overflow, screenshot };
}

async function jobs(browser) {
  const { page, seen } = await openPage(browser);
  await page.goto(url('/ui/jobs?state=dead'), { waitUntil: 'domcontentloaded' });
  await ready(page);
  const row = `#jobs-table tr.job[data-job-id="${spec.dead_job}"]`;
  await page.waitForSelector(row, { timeout: stepMs });
  const deadCount = await page.$eval('#job-counts li[data-state="dead"]', (li) => Number(li.dataset.count));
  check(deadCount >= 1, `the dead count shows ${deadCount}`);
  const before = await text(page, row);
  check(/dead/.test(before), `the job row does not say dead: ${before}`);
  check(/1 \/ 1/.test(before), `the job row does not show its attempts: ${before}`);
  // Its details: the attempts and the error.
  await page.click(`${row} button.toggle`);
  await page.waitForSelector(`.job-detail[data-job-id="${spec.dead_job}"]`, { timeout: stepMs });
  const detail = await text(page, `.job-detail[data-job-id="${spec.dead_job}"]`);
  check(/dead/.test(detail), `the job's details do not show its history: ${detail}`);
  await shot(page, 'jobs.png');
  // Retry it, then follow it in the unfiltered list (auto-refresh) until it is done.
  await page.click(`${row} button.retry`);
  await page.waitForFunction(() => /queued again/.test(document.querySelector('.page-status')?.innerText || ''), { timeout: stepMs });
  const status = await text(page, '.page-status');
  await page.select('#f-state', '');
  let finalState = null;
  try {
    await page.waitForFunction((id) => document.querySelector(`#jobs-table tr.job[data-job-id="${id}"]`)?.dataset.state === 'done',
      { timeout: stepMs, polling: 250 }, spec.dead_job);
  } finally {
    finalState = await page.$eval(row, (tr) => tr.dataset.state).catch(() => null);
  }
  await shot(page, 'jobs-after-retry.png');
  await page.close();
  check(seen.errors.length === 0, seen.errors.join('; '));
  return { before, status, final_state: finalState };
}

async function rules(browser) {
  const { page, seen } = await openPage(browser);
  await page.goto(url('/ui/rules'), { waitUntil: 'domcontentloaded' });
  await ready(page);
  const listed = await page.$$eval('#rules-table tbody tr', (trs) => trs.map((tr) => tr.dataset.rule));
  const input = await page.$('#try-file');
  await input.uploadFile(spec.try_file);
  await page.click('#try-submit');
  await page.waitForSelector('#rules-test-result', { timeout: stepMs });
  const result = await text(page, '#rules-test-result');
  await shot(page, 'rules.png');
  await page.close();
  check(seen.errors.length === 0, seen.errors.join('; '));
  return { listed, text: result };
}

async function peers(browser) {
  const { page, seen } = await openPage(browser);
  await page.goto(url('/ui/peers'), { waitUntil: 'domcontentloaded' });
  await ready(page);
  const echo = async (name) => {
    const row = `#peers-table tr[data-peer="${name}"]`;
    await page.click(`${row} button.echo`);
    await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.ok !== undefined, { timeout: stepMs }, `${row} .echo-result`);
    return page.$eval(`${row} .echo-result`, (el) => ({ ok: el.dataset.ok, text: el.innerText }));
  };
  const good = await echo(spec.echo_ok);
  const bad = await echo(spec.echo_fail);
  check(good.ok === 'true', `echo ${spec.echo_ok}: ${good.text}`);
  check(bad.ok === 'false', `echo ${spec.echo_fail}: ${bad.text}`);
  await shot(page, 'peers.png');
  await page.close();
  check(seen.errors.length === 0, seen.errors.join('; '));
  return { ok_text: good.text, fail_text: bad.text };
}

async function node(browser) {
  const { page, seen } = await openPage(browser);
  await page.goto(url('/ui/node'), { waitUntil: 'domcontentloaded' });
  await ready(page);
  await page.waitForSelector('#arrivals-plot .uplot canvas', { timeout: stepMs });
  const facts = await page.evaluate(() => ({
    version: document.querySelector('#node-version')?.innerText,
    database: document.querySelector('#node-database')?.innerText,
    storage: document.querySelector('#node-storage')?.innerText,
    counts: document.querySelector('#node-counts')?.innerText,
    minutes: Number(document.querySelector('#arrivals-plot')?.dataset.points),
    total: document.querySelector('#arrivals-total')?.innerText,
  }));
  check(facts.version, 'no version shown');
  check(facts.database === 'ok', `database: ${facts.database}`);
  await shot(page, 'node.png');
  await page.close();
  check(seen.errors.length === 0, seen.errors.join('; '));
  return facts;
}

const report = { ok: false };
const failures = [];
let browser;
try {
  browser = await withDeadline(puppeteer.launch({
    executablePath: args.chromium,
    headless: true,
    args: ['--no-sandbox', '--no-first-run', '--no-default-browser-check'],
    protocolTimeout: stepMs * 2,
  }), 'launching chromium');
  for (const [name, step] of Object.entries({ patients, history, jobs, rules, peers, node })) {
    try {
      report[name] = await withDeadline(step(browser), name, stepMs * 3);
    } catch (e) {
      report[name] = { error: e.message };
      failures.push(`${name}: ${e.message}`);
    }
  }
  report.ok = failures.length === 0;
} catch (e) {
  report.error = e.message;
  failures.push(e.message);
} finally {
  if (browser) {
    const proc = browser.process();
    await withDeadline(browser.close(), 'closing chromium', 15000).catch(() => proc?.kill('SIGKILL'));
  }
}
process.stdout.write(`${JSON.stringify(report)}\n`);
process.stderr.write(report.ok ? 'ui_check: passed\n' : `ui_check: FAILED: ${failures.join('; ')}\n`);
process.exit(report.ok ? 0 : 1);
