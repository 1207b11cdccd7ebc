#!/usr/bin/env node
// Opens the OHIF viewer served at --base in headless Debian chromium and checks what a user
// would see: the study list shows --expect-studies rows, each --study opens in the viewer
// with a drawn, non-blank image, and the --sr-study's SR series (--sr-series, its
// description) is in the study browser and opens with its measurement drawn on its image:
// an outline and the --sr-text lines beside it. Prints one JSON line; exits 0 only if all
// passed.
//
//   node tests/browser/ohif_check.mjs --base http://127.0.0.1:PORT/ --out DIR \
//     --expect-studies N [--study UID[,UID...]] [--chromium /usr/bin/chromium] [--timeout S] \
//     [--sr-study UID --sr-series DESCRIPTION [--sr-text TEXT ...]]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';

// Selectors of @ohif/app 3.13.2 (see tests/browser/README.md for where they come from).
// Study list: the worklist's DataTable gives data rows, and only data rows, an
// aria-selected attribute (the "No results." and loading rows have none).
const STUDY_ROW = 'tbody tr[aria-selected]';
// Viewer: cornerstone3D copies each rendered frame onto a 2D canvas per viewport.
const VIEWPORT_CANVAS = '[data-cy="viewport-grid"] canvas.cornerstone-canvas';
const STUDY_NOT_FOUND = '[data-cy="study-not-found-message"]';
// Study browser: one thumbnail per display set (an SR has no image: "-no-image"), with its
// series description and modality as labels.
const THUMBNAIL = '[data-cy="study-browser-thumbnail"], [data-cy="study-browser-thumbnail-no-image"]';
// An SR's measurements are drawn by cornerstone-dicom-sr's DICOMSRDisplayTool into the
// viewport's SVG layer: a POLYLINE region as an SVG polyline (two points: a line), the
// measurement's labels as the text lines of a linked text box.
const VIEWPORT_SVG = '[data-cy="viewport-grid"] svg';

// An image counts as drawn when this share of the canvas is brighter than black and the
// brightness varies (a uniform grey or a text overlay on black does not pass).
const MIN_NON_BLACK_FRACTION = 0.02;
const BLACK_LEVEL = 16; // of 255, luminance
const MIN_STDDEV = 8; // of 255, luminance over the whole canvas

function usage(message) {
  process.stderr.write(
    `ohif_check: ${message}\n` +
      'usage: node tests/browser/ohif_check.mjs --base URL --out DIR --expect-studies N ' +
      '[--study UID[,UID...]] [--chromium PATH] [--timeout SECONDS] ' +
      '[--sr-study UID --sr-series DESCRIPTION [--sr-text TEXT ...]]\n',
  );
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      base: { type: 'string' },
      out: { type: 'string' },
      'expect-studies': { type: 'string' },
      study: { type: 'string', multiple: true },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      timeout: { type: 'string', default: '60' },
      'sr-study': { type: 'string' },
      'sr-series': { type: 'string' },
      'sr-text': { type: 'string', multiple: true },
    },
    strict: true,
  }));
} catch (e) {
  usage(e.message);
}
if (!args.base || !args.out || args['expect-studies'] === undefined) {
  usage('--base, --out and --expect-studies are required');
}
const base = args.base.endsWith('/') ? args.base : `${args.base}/`;
const expectStudies = Number(args['expect-studies']);
if (!Number.isInteger(expectStudies) || expectStudies < 0) usage('--expect-studies must be a count');
const studies = (args.study ?? []).flatMap(s => s.split(',')).filter(Boolean);
if (args['sr-study'] && !args['sr-series']) usage('--sr-study needs --sr-series');
const srTexts = args['sr-text'] ?? [];
const stepMs = Number(args.timeout) * 1000;
if (!(stepMs > 0)) usage('--timeout must be a positive number of seconds');
fs.mkdirSync(args.out, { recursive: true });

// Rejects when `promise` takes longer than one step may. The waits inside a step have
// --timeout each and report what they saw; this hard limit, a little longer, catches a
// hung browser.
const hardStepMs = stepMs + 15000;
function withDeadline(promise, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${hardStepMs / 1000} s`)), hardStepMs);
  });
  // A step abandoned at its deadline may still fail later, on a closed page: not an
  // unhandled rejection that would end the process before it reports.
  promise.catch(() => {});
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// A new tab that records what went wrong in it: console errors, uncaught exceptions, and
// failed or refused requests (the server's answers are what this harness is about).
async function openPage(browser) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  const seen = { consoleErrors: [], httpErrors: [] };
  page.on('console', m => {
    if (m.type() === 'error') seen.consoleErrors.push(m.text().slice(0, 300));
  });
  page.on('pageerror', e => seen.consoleErrors.push(`uncaught: ${String(e.message ?? e).slice(0, 300)}`));
  page.on('requestfailed', r =>
    seen.httpErrors.push(`${r.method()} ${r.url()} failed: ${r.failure()?.errorText ?? '?'}`),
  );
  page.on('response', r => {
    if (r.status() >= 400) seen.httpErrors.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
  });
  // The investigational-use banner and the first-visit tour would cover the image in the
  // screenshots; they are dismissed the way a user's click would record it.
  await page.evaluateOnNewDocument(() => {
    sessionStorage.setItem('investigationalUseDialog', 'hidden');
    localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']));
  });
  return { page, seen };
}

async function checkStudyList(browser) {
  const { page, seen } = await openPage(browser);
  const result = { expected: expectStudies, rows: null, patients: [], ok: false };
  try {
    await withDeadline(
      (async () => {
        await page.goto(base, { waitUntil: 'domcontentloaded', timeout: stepMs });
        // Rows arrive after QIDO answers; wait for the expected count, and report the
        // count seen if it never comes.
        await page
          .waitForFunction((sel, n) => document.querySelectorAll(sel).length === n, { timeout: stepMs, polling: 250 }, STUDY_ROW, expectStudies)
          .catch(() => {});
      })(),
      'study list',
    );
  } catch (e) {
    result.error = e.message;
  } finally {
    // Let a late answer add rows beyond the expected ones before counting for good.
    await page.waitForNetworkIdle({ idleTime: 500, timeout: 10000 }).catch(() => {});
    const rows = await page
      .$$eval(STUDY_ROW, trs => trs.map(tr => tr.querySelector('td')?.textContent?.trim() ?? ''))
      .catch(() => null);
    if (rows) {
      result.rows = rows.length;
      result.patients = rows;
      result.ok = !result.error && rows.length === expectStudies;
      if (!result.error && !result.ok) result.error = `expected ${expectStudies} study rows, saw ${rows.length}`;
    }
    result.screenshot = path.join(args.out, 'study-list.png');
    await page.screenshot({ path: result.screenshot }).catch(e => (result.screenshotError = e.message));
    Object.assign(result, seen);
    await page.close().catch(() => {});
  }
  return result;
}

// Share of non-black pixels and the luminance's standard deviation, read from the
// viewport's 2D canvas in the page.
// Waits for frames still in flight (they would otherwise be missing from the screenshot
// and the error lists), keeps a screenshot, closes the page.
async function finishPage(page, result, seen, screenshot) {
  await page.waitForNetworkIdle({ idleTime: 500, timeout: 10000 }).catch(() => {});
  result.screenshot = path.join(args.out, screenshot);
  await page.screenshot({ path: result.screenshot }).catch(e => (result.screenshotError = e.message));
  Object.assign(result, seen);
  await page.close().catch(() => {});
}

// A refused DICOMweb request is a failure even when an image got drawn, and the likely
// cause when none was.
function failOnRefusedRequests(result) {
  const refused = [...new Set(result.httpErrors.filter(e => e.includes('/dicom-web')))];
  if (!refused.length) return;
  result.ok = false;
  const listed = refused.slice(0, 3).join('; ') + (refused.length > 3 ? `; … ${refused.length - 3} more` : '');
  result.error = `${result.error ? `${result.error}; ` : ''}DICOMweb requests failed: ${listed}`;
}

function measureCanvas(selector, blackLevel) {
  const canvas = document.querySelector(selector);
  if (!canvas || canvas.width === 0 || canvas.height === 0) return null;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) return { width: canvas.width, height: canvas.height, error: 'no 2d context' };
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  let nonBlack = 0;
  let sum = 0;
  let sumSq = 0;
  const n = data.length / 4;
  for (let i = 0; i < data.length; i += 4) {
    const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
    if (y > blackLevel) nonBlack++;
    sum += y;
    sumSq += y * y;
  }
  const mean = sum / n;
  return {
    width: canvas.width,
    height: canvas.height,
    nonBlackFraction: nonBlack / n,
    mean,
    stddev: Math.sqrt(Math.max(0, sumSq / n - mean * mean)),
  };
}

const drawn = m => m && m.nonBlackFraction >= MIN_NON_BLACK_FRACTION && m.stddev >= MIN_STDDEV;

async function checkStudy(browser, uid, index) {
  const { page, seen } = await openPage(browser);
  const url = new URL(`viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}`, base).href;
  const result = { uid, url, ok: false };
  let last = null;
  try {
    await withDeadline(
      (async () => {
        await page.goto(url, { waitUntil: 'domcontentloaded', timeout: stepMs });
        // Poll the pixels until an image is drawn: the canvas exists, blank, well before
        // the frame has been fetched and decoded.
        const started = Date.now();
        while (Date.now() - started < stepMs) {
          if (await page.$(STUDY_NOT_FOUND)) throw new Error('the viewer says the study was not found');
          last = await page.evaluate(measureCanvas, VIEWPORT_CANVAS, BLACK_LEVEL);
          if (drawn(last)) return;
          await new Promise(r => setTimeout(r, 500));
        }
      })(),
      `viewer for ${uid}`,
    );
    if (!last) throw new Error(`no viewport canvas (${VIEWPORT_CANVAS}) appeared`);
    if (last.error) throw new Error(`viewport canvas unreadable: ${last.error}`);
    result.ok = drawn(last);
    if (!result.ok) result.error = 'the viewport stayed blank';
  } catch (e) {
    result.error = e.message;
  } finally {
    if (last) {
      result.canvas = { width: last.width, height: last.height };
      result.nonBlackFraction = last.nonBlackFraction !== undefined ? Number(last.nonBlackFraction.toFixed(4)) : null;
      result.stddev = last.stddev !== undefined ? Number(last.stddev.toFixed(2)) : null;
    }
    // Frames still in flight would otherwise be missing from the screenshot and the
    // error lists.
    await finishPage(page, result, seen, `viewer-${index + 1}.png`);
  }
  failOnRefusedRequests(result);
  return result;
}

// What the viewport's SVG layer shows: the polylines' point counts and the text lines.
function readOverlay(selector) {
  const polylines = [];
  const texts = [];
  for (const svg of document.querySelectorAll(selector)) {
    for (const p of svg.querySelectorAll('polyline')) {
      polylines.push((p.getAttribute('points') ?? '').trim().split(/\s+/).filter(Boolean).length);
    }
    for (const t of svg.querySelectorAll('text')) {
      const spans = t.querySelectorAll('tspan');
      if (spans.length) for (const span of spans) texts.push(span.textContent.trim());
      else texts.push(t.textContent.trim());
    }
  }
  return { polylines, texts };
}

// Opens the study, finds the SR series' thumbnail by its description, opens it with a double
// click (as a user would) and waits until OHIF has drawn the SR's first measurement: an
// outline of at least 4 points on a drawn image, and every --sr-text as a line beside it.
// None of it appears when OHIF does not understand the SR (no SCOORD, no image reference, a
// measurement it cannot place).
async function checkSr(browser, uid) {
  const { page, seen } = await openPage(browser);
  const url = new URL(`viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}`, base).href;
  const result = { uid, url, series: args['sr-series'], expectedTexts: srTexts, ok: false };
  let overlay = null;
  let canvas = null;
  try {
    await withDeadline(
      (async () => {
        await page.goto(url, { waitUntil: 'domcontentloaded', timeout: stepMs });
        const thumbnail = await page
          .waitForFunction(
            (sel, description) =>
              [...document.querySelectorAll(sel)].find(
                t =>
                  t.querySelector('[data-cy="series-description-label"]')?.textContent.trim() === description &&
                  t.querySelector('[data-cy="series-modality-label"]')?.textContent.trim() === 'SR',
              ),
            { timeout: stepMs, polling: 250 },
            THUMBNAIL,
            args['sr-series'],
          )
          .catch(() => null);
        if (!thumbnail) {
          const seenSeries = await page
            .$$eval(THUMBNAIL, ts =>
              ts.map(
                t =>
                  `${t.querySelector('[data-cy="series-modality-label"]')?.textContent.trim()} ` +
                  `${t.querySelector('[data-cy="series-description-label"]')?.textContent.trim()}`,
              ),
            )
            .catch(() => []);
          throw new Error(
            `no SR thumbnail "${args['sr-series']}" in the study browser (saw: ${seenSeries.join('; ') || 'none'})`,
          );
        }
        result.thumbnail = true;
        await thumbnail.asElement().click({ count: 2 });
        const started = Date.now();
        while (Date.now() - started < stepMs) {
          if (await page.$(STUDY_NOT_FOUND)) throw new Error('the viewer says the study was not found');
          overlay = await page.evaluate(readOverlay, VIEWPORT_SVG);
          canvas = await page.evaluate(measureCanvas, VIEWPORT_CANVAS, BLACK_LEVEL);
          const outlined = overlay.polylines.some(n => n >= 4);
          const texts = srTexts.every(t => overlay.texts.includes(t));
          if (outlined && texts && drawn(canvas)) return;
          await new Promise(r => setTimeout(r, 500));
        }
      })(),
      `SR of ${uid}`,
    );
    const missing = srTexts.filter(t => !overlay?.texts.includes(t));
    if (!overlay?.polylines.some(n => n >= 4)) result.error = 'no measurement outline was drawn in the viewport';
    else if (missing.length) result.error = `the viewport does not show: ${missing.map(t => `"${t}"`).join(', ')}`;
    else if (!drawn(canvas)) result.error = 'the image under the measurement stayed blank';
    else result.ok = true;
  } catch (e) {
    result.error = e.message;
  } finally {
    if (overlay) {
      result.polylinePoints = overlay.polylines;
      result.texts = overlay.texts.slice(0, 20);
    }
    await finishPage(page, result, seen, 'sr-viewer.png');
  }
  failOnRefusedRequests(result);
  return result;
}

const report = { ok: false, base, studyList: null, studies: [], sr: null };
let browser;
try {
  browser = await withDeadline(
    puppeteer.launch({
      executablePath: args.chromium,
      headless: true, // chromium's new headless mode
      args: [
        '--no-sandbox',
        // Without a GPU, WebGL runs on SwiftShader; chromium now wants that asked for.
        '--enable-unsafe-swiftshader',
        '--no-first-run',
        '--no-default-browser-check',
      ],
      protocolTimeout: stepMs,
    }),
    'launching chromium',
  );
  report.studyList = await checkStudyList(browser);
  for (const [i, uid] of studies.entries()) report.studies.push(await checkStudy(browser, uid, i));
  if (args['sr-study']) report.sr = await checkSr(browser, args['sr-study']);
  report.ok = report.studyList.ok && report.studies.every(s => s.ok) && (!report.sr || report.sr.ok);
} catch (e) {
  report.error = e.message;
} finally {
  if (browser) {
    const proc = browser.process();
    await withDeadline(browser.close(), 'closing chromium').catch(() => proc?.kill('SIGKILL'));
  }
}

process.stdout.write(`${JSON.stringify(report)}\n`);
if (report.ok) {
  process.stderr.write(
    `ohif_check: passed: ${report.studyList.rows} study rows; ` +
      `${report.studies.map(s => `${s.uid} drawn (${(s.nonBlackFraction * 100).toFixed(1)}% non-black)`).join(', ') || 'no studies opened'}` +
      `${report.sr ? `; SR of ${report.sr.uid}: outline and ${report.sr.expectedTexts.length} expected lines drawn` : ''}\n`,
  );
} else {
  const failures = [
    report.error,
    report.studyList && !report.studyList.ok ? `study list: ${report.studyList.error}` : null,
    ...report.studies.filter(s => !s.ok).map(s => `${s.uid}: ${s.error}`),
    report.sr && !report.sr.ok ? `SR of ${report.sr.uid}: ${report.sr.error}` : null,
  ].filter(Boolean);
  process.stderr.write(`ohif_check: FAILED: ${failures.join('; ')}\n`);
}
process.exit(report.ok ? 0 : 1);
