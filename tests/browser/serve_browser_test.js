// Browser test of nnet serve's page: Debian's chromium (headless, driven by playwright-core; no
// browser is ever downloaded) draws real MNIST test digits on the canvas stroke by stroke with the
// mouse, and checks that the page shows what the API answers for that very picture: the class and
// the 28x28 input preview. Also: live updates while drawing, clear, picking an image file.
// Usage: node serve_browser_test.js NNET_BINARY MNIST_DIR OUT_DIR   (exit 77 = skipped)
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { chromium } = require('playwright-core');

const [nnet, mnistDir, outDir] = process.argv.slice(2);
const CHROMIUM = '/usr/bin/chromium';
const DIGITS = 10;  // the first ten test images

function skip(why) {
  console.log('SKIP: ' + why);
  process.exit(77);
}

function readIdx(file) {
  const b = zlib.gunzipSync(fs.readFileSync(file));
  const dims = b[3];
  const shape = [];
  for (let i = 0; i < dims; ++i) shape.push(b.readUInt32BE(4 + 4 * i));
  return { shape, data: b.subarray(4 + 4 * dims) };
}

// Horizontal runs of ink (> 127) per row: the strokes we draw, in reading order.
function strokes(pixels) {
  const out = [];
  for (let y = 0; y < 28; ++y) {
    let x = 0;
    while (x < 28) {
      if (pixels[y * 28 + x] > 127) {
        const x0 = x;
        while (x < 28 && pixels[y * 28 + x] > 127) ++x;
        out.push([x0, x - 1, y]);
      } else {
        ++x;
      }
    }
  }
  return out;
}

function startServer(model) {
  return new Promise((resolve, reject) => {
    const p = spawn(nnet, ['serve', '--model', model, '--port', '0', '--data', mnistDir],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) resolve({ proc: p, url: m[0] });
    });
    p.on('exit', (code) => reject(new Error('nnet serve exited with ' + code + ': ' + out)));
  });
}

async function api(url, body, type) {
  const r = await fetch(url + 'api/predict', { method: 'POST', headers: { 'Content-Type': type }, body });
  if (!r.ok) throw new Error('API answered ' + r.status + ': ' + (await r.text()));
  return r.json();
}

let failures = 0;
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures++;
}

async function settle(page) {
  await page.waitForFunction(() => window.nnet && window.nnet.idle() && window.nnet.answers > 0,
    null, { timeout: 20000 });
}

// The page's answer against the API's for the same PNG: class and the 28x28 preview.
async function comparePage(page, url, png, type, what) {
  const shown = (await page.textContent('#digit')).trim();
  const want = await api(url, png, type);
  check(shown === String(want.class), `${what}: page shows ${shown}, API says ${want.class}`);
  const preview = await page.evaluate(() => Array.from(
    document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data)
    .filter((_, i) => i % 4 === 0));
  let worst = 0;
  for (let i = 0; i < 784; ++i)
    worst = Math.max(worst, Math.abs(preview[i] - Math.round(255 * want.input[i])));
  check(worst <= 1, `${what}: 28x28 preview matches the API's input (max diff ${worst}/255)`);
  return want;
}

async function main() {
  if (!fs.existsSync(CHROMIUM)) skip(CHROMIUM + ' not installed (apt-get install chromium)');
  const images = path.join(mnistDir, 't10k-images-idx3-ubyte.gz');
  const labels = path.join(mnistDir, 't10k-labels-idx1-ubyte.gz');
  if (!fs.existsSync(images) || !fs.existsSync(labels)) skip('MNIST test IDX files not in ' + mnistDir);
  fs.mkdirSync(outDir, { recursive: true });

  // A quick model (a few seconds): 784-100-10, cross-entropy, 3 epochs on the 9,000 training images.
  const model = path.join(outDir, 'model.json');
  execFileSync(nnet, ['train', '--data', path.join(mnistDir, 'mnist.pkl.gz'), '--sizes', '784,100,10',
    '--cost', 'cross-entropy', '--init', 'default', '--eta', '0.5', '--epochs', '3', '--eval', 'none',
    '--quiet', '--save', model], { stdio: 'inherit' });

  const img = readIdx(images), lab = readIdx(labels);
  const server = await startServer(model);
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'nnet-chromium-'));
  const ctx = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1000, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('pageerror', (e) => check(false, 'page error: ' + e));
    // Only our own server: anything else the page asked for would be a bug (no CDN).
    await page.route('**/*', (route) =>
      route.request().url().startsWith(server.url) ? route.continue() : route.abort());
    await page.goto(server.url);
    await page.waitForSelector('#results .model');
    const desc = await page.textContent('#models');
    check(/784/.test(desc) && /test accuracy/.test(desc) && /%/.test(desc),
      'model description shows layers and the measured test accuracy');
    // The data set's name (the training's and the server's --data), never a path on the server.
    check(/data mnist\.pkl\.gz/.test(desc) && /train_size all/.test(desc) &&
      desc.includes('test split of ' + path.basename(path.resolve(mnistDir)) + ' (') &&
      !desc.includes(path.resolve(mnistDir)) &&
      !desc.includes(mnistDir), 'model description names the data set, not server paths: ' + desc);

    const box = await page.locator('#pad').boundingBox();
    const cell = box.width / 28;
    let right = 0;
    for (let n = 0; n < DIGITS; ++n) {
      await page.click('#clear');
      await page.evaluate(() => { window.nnet.answers = 0; });
      const px = img.data.subarray(n * 784, (n + 1) * 784);
      const s = strokes(px);
      let midAnswers = 0;
      for (let k = 0; k < s.length; ++k) {
        const [x0, x1, y] = s[k];
        const X = (x) => box.x + (x + 0.5) * cell, Y = box.y + (y + 0.5) * cell;
        await page.mouse.move(X(x0), Y);
        await page.mouse.down();
        await page.mouse.move(X(x1), Y, { steps: Math.max(1, x1 - x0) });
        await page.mouse.up();
        if (k === s.length - 1) midAnswers = await page.evaluate(() => window.nnet.answers);
        else if (k % 8 === 7) await page.waitForTimeout(30);  // a human pauses between strokes
      }
      check(midAnswers > 0, `digit ${n}: prediction updated while drawing (${midAnswers} answers ` +
        `before the last of ${s.length} strokes)`);
      await settle(page);
      const dataUrl = await page.evaluate(() => document.getElementById('pad').toDataURL('image/png'));
      const png = Buffer.from(dataUrl.split(',')[1], 'base64');
      const want = await comparePage(page, server.url, png, 'image/png', `digit ${n} (label ${lab.data[n]})`);
      if (want.class === lab.data[n]) right++;
      if (n === 0) await page.screenshot({ path: path.join(outDir, 'serve.png') });
    }
    console.log(`drawn digits read correctly: ${right} / ${DIGITS}`);
    check(right >= 7, `at least 7 of the ${DIGITS} drawn test digits read as their label`);

    // Clear empties the display; a picked file is framed by the server like nnet predict.
    await page.click('#clear');
    check((await page.textContent('#digit')).trim() === '', 'clear empties the answer');
    const pngFile = path.join(outDir, 'digit.png');
    // Test digit 0 as a 28x28 PNG file (encoded by the browser), picked with the file input.
    await page.evaluate(async (bytes) => {
      const c = document.createElement('canvas');
      c.width = c.height = 28;
      const g = c.getContext('2d'), d = g.createImageData(28, 28);
      for (let i = 0; i < 784; ++i) {
        d.data[4 * i] = d.data[4 * i + 1] = d.data[4 * i + 2] = bytes[i];
        d.data[4 * i + 3] = 255;
      }
      g.putImageData(d, 0, 0);
      window.__png = c.toDataURL('image/png');
    }, Array.from(img.data.subarray(0, 784)));
    const filePng = Buffer.from((await page.evaluate(() => window.__png)).split(',')[1], 'base64');
    fs.writeFileSync(pngFile, filePng);
    await page.evaluate(() => { window.nnet.answers = 0; });
    await page.setInputFiles('#file', pngFile);
    await settle(page);
    await comparePage(page, server.url, filePng, 'image/png', 'picked file');
    await page.screenshot({ path: path.join(outDir, 'serve-file.png') });
  } finally {
    await ctx.close();
    fs.rmSync(userData, { recursive: true, force: true });
    server.proc.removeAllListeners('exit');
    const exited = new Promise((resolve) => server.proc.on('exit', resolve));
    server.proc.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
    check(code === 0, `nnet serve exits 0 on SIGTERM (got ${code})`);
  }
  console.log(failures ? `${failures} check(s) failed` : 'all checks passed; screenshot in ' + outDir);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
