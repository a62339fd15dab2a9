// nnet serve's page: draw on #pad, send the picture to POST /api/predict while drawing (at most
// one request in flight, the newest drawing wins), show the answer, the ten outputs per model and
// the 28x28 input the network saw. No framework, nothing loaded from elsewhere.
'use strict';

const pad = document.getElementById('pad');
const ctx = pad.getContext('2d');
const seen = document.getElementById('seen');
const digitEl = document.getElementById('digit');
const statusEl = document.getElementById('status');
const resultsEl = document.getElementById('results');
const INK = 22;            // stroke width on the 280 px pad (MNIST strokes are ~2-3 of 28 px)
const MIN_GAP_MS = 80;     // throttle: at most one request per this many ms while drawing

// State visible to tests (tests/browser/serve.spec.js): the last answer and whether work remains.
const state = { last: null, requests: 0, answers: 0, inFlight: false, dirty: false, timer: null,
  idle() { return !this.inFlight && !this.dirty && this.timer === null; } };
window.nnet = state;

function setStatus(text, error) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', !!error);
}

function clearPad() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  digitEl.innerHTML = '&nbsp;';
  seen.getContext('2d').clearRect(0, 0, 28, 28);
  for (const f of resultsEl.querySelectorAll('.fill')) f.style.width = '0';
  for (const v of resultsEl.querySelectorAll('.val')) v.textContent = '';
  for (const b of resultsEl.querySelectorAll('.bar')) b.classList.remove('top');
  state.last = null;
  setStatus('Draw a digit on the black square.');
}

// One column of ten bars per model.
function buildBars(models) {
  resultsEl.textContent = '';
  for (const m of models) {
    const box = document.createElement('div');
    box.className = 'model';
    const h = document.createElement('h3');
    h.textContent = models.length > 1 ? m.name + ': ' : m.name;
    const cls = document.createElement('span');
    cls.className = 'cls';
    h.appendChild(cls);
    box.appendChild(h);
    for (let d = 0; d < 10; ++d) {
      const row = document.createElement('div');
      row.className = 'bar';
      row.innerHTML = '<span>' + d + '</span><div class="track"><div class="fill"></div></div>' +
        '<span class="val"></span>';
      box.appendChild(row);
    }
    resultsEl.appendChild(box);
  }
}

// A layer stack one layer a line, each with the shape it hands on: "conv:20:5 \u2192 20\u00d724\u00d724".
function stackLines(shapes) {
  return shapes.map((l) => (l.layer === 'input' ? 'input ' : l.layer + ' \u2192 ') +
    l.shape.join('\u00d7')).join('\n');
}

function describe(models) {
  const el = document.getElementById('models');
  el.textContent = '';
  document.getElementById('plural').textContent = models.length > 1 ? 's' : '';
  for (const m of models) {
    const t = m.training || {};
    const rows = [
      ['file', m.name],
      ['layers', m.layer_shapes ? stackLines(m.layer_shapes) : m.sizes.join(' \u2192 ')],
      ['activations', m.activations.join(', ')],
      ['cost', m.cost],
      ['parameters', m.parameters.toLocaleString('en')],
      ['init', m.init || 'unknown'],
    ];
    const trained = [];
    for (const k of ['data', 'epochs', 'batch', 'eta', 'lambda', 'dropout', 'train_size', 'expand',
      'seed']) {
      if (t[k] !== undefined && t[k] !== false && t[k] !== '' &&
          !(typeof t[k] === 'number' && t[k] < 0) &&
          !(k === 'lambda' && t[k] === 0) &&
          !(k === 'dropout' && t[k] === 0)) trained.push(k + ' ' + t[k]);
    }
    rows.push(['trained', trained.length ? trained.join(', ') : 'unknown']);
    rows.push(['test accuracy', m.test_accuracy === null ? 'not measured (serve --data DIR)' :
      (100 * m.test_accuracy).toFixed(2) + ' %  (' + m.accuracy_data + ')']);
    const box = document.createElement('div');
    box.className = 'desc';
    const dl = document.createElement('dl');
    for (const [k, v] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
    box.appendChild(dl);
    el.appendChild(box);
  }
}

function show(answer) {
  state.last = answer;
  digitEl.textContent = String(answer.class);
  const boxes = resultsEl.querySelectorAll('.model');
  answer.models.forEach((m, i) => {
    const box = boxes[i];
    if (!box) return;
    box.querySelector('.cls').textContent = answer.models.length > 1 ? String(m.class) : '';
    const bars = box.querySelectorAll('.bar');
    m.probabilities.slice(0, 10).forEach((p, d) => {
      const v = Math.max(0, Math.min(1, p));
      bars[d].querySelector('.fill').style.width = (100 * v).toFixed(1) + '%';
      bars[d].querySelector('.val').textContent = p.toFixed(3);
      bars[d].classList.toggle('top', d === m.class);
    });
  });
  // The 28x28 input, ink white as in MNIST.
  const sctx = seen.getContext('2d');
  const img = sctx.createImageData(28, 28);
  for (let i = 0; i < 784; ++i) {
    const g = Math.round(255 * Math.max(0, Math.min(1, answer.input[i])));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
    img.data[4 * i + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
}

async function send(body, type) {
  state.inFlight = true;
  state.requests++;
  try {
    const r = await fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': type }, body });
    const j = await r.json();
    if (r.ok) {
      show(j);
      setStatus('');
    } else if (r.status === 422 && /ink/.test(j.error)) {
      setStatus('Draw a digit on the black square.');
    } else {
      setStatus(j.error || ('HTTP ' + r.status), true);
    }
    state.answers++;
  } catch (e) {
    setStatus('The server did not answer: ' + e, true);
  } finally {
    state.inFlight = false;
    if (state.dirty) schedule();
  }
}

function padPng() {
  return new Promise((resolve) => pad.toBlob(resolve, 'image/png'));
}

let lastSent = 0;
// Called whenever the drawing changes: sends now, later (throttle), or after the request in flight.
function schedule() {
  state.dirty = true;
  if (state.inFlight || state.timer !== null) return;
  const wait = Math.max(0, lastSent + MIN_GAP_MS - performance.now());
  state.timer = setTimeout(async () => {
    state.timer = null;
    if (state.inFlight) return;  // send()'s finally reschedules
    state.dirty = false;
    lastSent = performance.now();
    state.inFlight = true;
    const blob = await padPng();
    await send(blob, 'image/png');
  }, wait);
}

// Drawing with pointer events: mouse, touch and pen alike.
let drawing = null;  // pointerId of the stroke in progress
function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
function dot([x, y]) {
  ctx.beginPath();
  ctx.arc(x, y, INK / 2, 0, 2 * Math.PI);
  ctx.fill();
}
let prev = null;
pad.addEventListener('pointerdown', (e) => {
  if (drawing !== null) return;
  e.preventDefault();
  drawing = e.pointerId;
  pad.setPointerCapture(e.pointerId);
  ctx.fillStyle = ctx.strokeStyle = '#fff';
  ctx.lineWidth = INK;
  ctx.lineCap = ctx.lineJoin = 'round';
  prev = point(e);
  dot(prev);
  schedule();
});
pad.addEventListener('pointermove', (e) => {
  if (e.pointerId !== drawing) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  ctx.beginPath();
  ctx.moveTo(prev[0], prev[1]);
  for (const c of events.length ? events : [e]) {
    prev = point(c);
    ctx.lineTo(prev[0], prev[1]);
  }
  ctx.stroke();
  schedule();
});
function endStroke(e) {
  if (e.pointerId !== drawing) return;
  drawing = null;
  prev = null;
  schedule();
}
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

document.getElementById('clear').addEventListener('click', clearPad);

// A picture instead: shown on the pad, and the file itself is what the server frames.
async function useFile(file) {
  if (!file) return;
  const type = file.type === 'image/jpeg' ? 'image/jpeg' : file.type === 'image/png' ? 'image/png' : file.type;
  try {
    const bmp = await createImageBitmap(file);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
    const s = Math.min(pad.width / bmp.width, pad.height / bmp.height);
    ctx.drawImage(bmp, (pad.width - s * bmp.width) / 2, (pad.height - s * bmp.height) / 2,
      s * bmp.width, s * bmp.height);
  } catch (e) { /* the server will say what is wrong with it */ }
  await send(file, type || 'application/octet-stream');
}
document.getElementById('file').addEventListener('change', (e) => useFile(e.target.files[0]));
pad.addEventListener('dragover', (e) => { e.preventDefault(); pad.classList.add('drop'); });
pad.addEventListener('dragleave', () => pad.classList.remove('drop'));
pad.addEventListener('drop', (e) => {
  e.preventDefault();
  pad.classList.remove('drop');
  useFile(e.dataTransfer.files[0]);
});

clearPad();
fetch('/api/model').then((r) => r.json()).then((j) => {
  buildBars(j.models);
  describe(j.models);
}).catch((e) => setStatus('Could not load the model description: ' + e, true));
