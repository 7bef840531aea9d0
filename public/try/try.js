'use strict';
// The try page: one photo (a file or a camera frame) sent to the public API with the key typed in.
// The key lives in the input field only; nothing is stored by the page.

const $ = (id) => document.getElementById(id);
// The photo is drawn with its longer side within these bounds: small photos are enlarged so that the
// landmarks and outlines drawn over them stay legible.
const MIN_CANVAS_SIDE = 1024;
const MAX_CANVAS_SIDE = 1600;

const state = {
  /** The photo's bytes as they are sent, and its decoded image for drawing. */
  photo: null,
  image: null,
  /** What the last check found, drawn over the photo. */
  faces: [],
  fiqaOccluded: [],
  accepted: null,
  stream: null,
};

function say(text, isError = false) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

function apiKey() {
  const key = $('key').value.trim();
  if (!key) throw new Error('Type the API key first.');
  return key;
}

/** Calls the API and reads its JSON answer, whatever the status; the status is kept beside it. */
async function call(path, init) {
  const response = await fetch(path, { ...init, headers: { ...(init.headers || {}), Authorization: apiKey() } });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: { description: text.slice(0, 200) || response.statusText } };
  }
}

function base64Of(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',', 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function loadImage(blob) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    const url = URL.createObjectURL(blob);
    image.onload = () => {
      URL.revokeObjectURL(url);
      resolve(image);
    };
    image.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error('This file is not an image the browser can show: choose a JPEG or PNG.'));
    };
    image.src = url;
  });
}

function clearVerdicts() {
  state.faces = [];
  state.fiqaOccluded = [];
  state.accepted = null;
  for (const id of ['fiqa', 'qitech']) {
    $(`${id}-outcome`).textContent = 'No verdict yet.';
    $(`${id}-outcome`).className = 'outcome';
  }
  $('fiqa-details').replaceChildren();
  $('qitech-reasons').hidden = true;
  $('qitech-reasons').querySelector('tbody').replaceChildren();
  $('enroll-outcome').textContent = '';
}

async function usePhoto(blob, name) {
  const image = await loadImage(blob);
  state.photo = blob;
  state.image = image;
  clearVerdicts();
  $('photo-name').textContent = `${name}: ${image.naturalWidth}×${image.naturalHeight} px, ${Math.round(blob.size / 1024)} KB`;
  for (const id of ['check', 'enroll', 'authenticate']) $(id).disabled = false;
  draw();
}

// ---- drawing ---------------------------------------------------------------------------------

function draw() {
  const canvas = $('canvas');
  const image = state.image;
  if (!image) return;
  const longer = Math.max(image.naturalWidth, image.naturalHeight);
  const scale = Math.min(MAX_CANVAS_SIDE, Math.max(MIN_CANVAS_SIDE, longer)) / longer;
  canvas.width = Math.round(image.naturalWidth * scale);
  canvas.height = Math.round(image.naturalHeight * scale);
  const g = canvas.getContext('2d');
  g.drawImage(image, 0, 0, canvas.width, canvas.height);
  const line = Math.max(1.5, canvas.width / 400);
  const at = ([x, y]) => [x * scale, y * scale];
  let landmarks = 0;
  let occluded = 0;
  for (const face of state.faces) {
    for (const [name, region] of Object.entries(face.regions)) {
      const covered = region.occluded || state.fiqaOccluded.includes(name);
      g.beginPath();
      region.outline.forEach((point, i) => (i === 0 ? g.moveTo(...at(point)) : g.lineTo(...at(point))));
      g.closePath();
      if (covered) {
        occluded++;
        g.fillStyle = 'rgba(239, 68, 68, 0.45)';
        g.fill();
      }
      g.strokeStyle = covered ? '#ef4444' : 'rgba(250, 204, 21, 0.9)';
      g.lineWidth = line * (covered ? 1 : 0.6);
      g.stroke();
    }
    g.fillStyle = '#38bdf8';
    for (const point of face.landmarks) {
      const [x, y] = at(point);
      g.fillRect(x - line / 2, y - line / 2, line, line);
      landmarks++;
    }
    const { x, y, width, height } = face.box;
    g.strokeStyle = state.accepted ? '#22c55e' : '#f97316';
    g.lineWidth = line * 2;
    g.strokeRect(x * scale, y * scale, width * scale, height * scale);
  }
  const count = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;
  canvas.setAttribute('aria-label', `The photo with ${count(state.faces.length, 'face')}, ${count(landmarks, 'landmark')} and ${count(occluded, 'occluded region')} drawn over it`);
}

// ---- verdicts --------------------------------------------------------------------------------

function item(list, text) {
  const li = document.createElement('li');
  li.textContent = text;
  list.append(li);
}

function showOutcome(id, accepted, text) {
  const outcome = $(id);
  outcome.textContent = text;
  outcome.className = `outcome ${accepted ? 'accepted' : 'rejected'}`;
}

function showFiqa({ status, body }) {
  const details = $('fiqa-details');
  details.replaceChildren();
  const result = body.ok && body.job && body.job.result ? body.job.result.result[0] : null;
  if (!result) {
    showOutcome('fiqa-outcome', false, `${status}: ${body.message || body.description || 'no answer'}`);
    return;
  }
  showOutcome('fiqa-outcome', result.accepted, `${result.accepted ? 'Accepted' : 'Not accepted'}: ${body.message}`);
  const occlusion = result.face_occlusion;
  if (occlusion && occlusion.occluded_features) {
    state.fiqaOccluded = Object.entries(occlusion.occluded_features).filter(([, covered]) => covered).map(([name]) => name);
    item(details, occlusion.occluded ? `occluded: ${state.fiqaOccluded.join(', ')}` : 'no region occluded');
  } else {
    item(details, 'occlusion not checked (no single face found)');
  }
  if (result.face_iqa && result.face_iqa.iqa_score !== undefined) {
    item(details, `quality score ${result.face_iqa.iqa_score} (${result.face_iqa.accepted ? 'good enough' : 'too low'})`);
  } else if (occlusion && occlusion.occluded !== undefined) {
    item(details, 'quality not measured (stopped at occlusion)');
  }
}

function limitOf(reason) {
  if (reason.min !== undefined && reason.max !== undefined) return `${reason.min} – ${reason.max}`;
  if (reason.min !== undefined) return `≥ ${reason.min}`;
  return `≤ ${reason.max}`;
}

function showQiTech({ status, body }) {
  const table = $('qitech-reasons');
  const rows = table.querySelector('tbody');
  rows.replaceChildren();
  state.faces = Array.isArray(body.faces) ? body.faces : [];
  if (status === 201) {
    state.accepted = true;
    showOutcome('qitech-outcome', true, `Accepted: stored as image_key ${body.image_key} (${body.width_px}×${body.height_px})`);
    table.hidden = true;
    return;
  }
  state.accepted = false;
  if (body.title !== 'image_quality') {
    showOutcome('qitech-outcome', false, `${status} ${body.title || ''}: ${body.description || ''}`);
    table.hidden = true;
    return;
  }
  showOutcome('qitech-outcome', false, `Not approved, ${body.image_status}: ${body.description}`);
  for (const reason of body.reasons) {
    const row = document.createElement('tr');
    for (const text of [reason.image_status, reason.check, String(reason.value), limitOf(reason)]) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    rows.append(row);
  }
  table.hidden = false;
}

async function check() {
  const button = $('check');
  button.disabled = true;
  try {
    clearVerdicts();
    draw();
    say('Checking…');
    const image = await base64Of(state.photo);
    const json = { 'content-type': 'application/json' };
    const [fiqa, qitech] = await Promise.all([
      call('/NFFS-FIQA/v1/predict', { method: 'POST', headers: json, body: JSON.stringify({ images: [image] }) }),
      call('/face_recognition/image?faces=true', { method: 'POST', headers: json, body: JSON.stringify({ image }) }),
    ]);
    showFiqa(fiqa);
    showQiTech(qitech);
    draw();
    const refused = fiqa.status === 401 || qitech.status === 401;
    say(refused ? 'The key was refused: check it.' : 'Done.', refused);
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

async function sendForUser(path, field) {
  const username = $('username').value.trim();
  if (!username) throw new Error('Type a username first.');
  const form = new FormData();
  form.append(field, state.photo, state.photo.type === 'image/png' ? 'photo.png' : 'photo.jpg');
  return call(`${path}?username=${encodeURIComponent(username)}`, { method: 'POST', body: form });
}

async function enroll() {
  try {
    const { status, body } = await sendForUser('/api/enroll', 'cin_file');
    const approved = body.EnrollStatus === 'APPROVED';
    const text = body.EnrollStatus ? `Enrollment ${body.EnrollStatus}: ${body.DecisionReason}` : `${status}: ${body.DecisionReason || body.message || body.description || body.msg || 'error'}`;
    showOutcome('enroll-outcome', approved, text);
    say('');
  } catch (error) {
    say(error.message, true);
  }
}

async function authenticate() {
  try {
    const { status, body } = await sendForUser('/api/authentificate', 'auth_video');
    const approved = body.Decision === 'APPROVED';
    const score = typeof body.score === 'number' ? `, score ${body.score}` : '';
    const text = body.Decision ? `Authentication ${body.Decision}: ${body.DecisionReason}${score}` : `${status}: ${body.DecisionReason || body.message || body.description || body.msg || 'error'}`;
    showOutcome('enroll-outcome', approved, text);
    say('');
  } catch (error) {
    say(error.message, true);
  }
}

// ---- camera ----------------------------------------------------------------------------------

function cameraAvailable() {
  return window.isSecureContext && navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function';
}

function showCamera(on) {
  $('camera').hidden = !on;
  $('camera-shoot').hidden = !on;
  $('camera-stop').hidden = !on;
  $('camera-start').hidden = on;
}

async function startCamera() {
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: false });
    // A photo can be taken once the first frame has arrived.
    $('camera-shoot').disabled = true;
    $('camera').srcObject = state.stream;
    showCamera(true);
    say('Camera on: look at it and take the photo.');
  } catch (error) {
    say(`The camera could not start: ${error.message}`, true);
  }
}

function stopCamera() {
  if (state.stream) for (const track of state.stream.getTracks()) track.stop();
  state.stream = null;
  $('camera').srcObject = null;
  showCamera(false);
}

function takePhoto() {
  const video = $('camera');
  const frame = document.createElement('canvas');
  frame.width = video.videoWidth;
  frame.height = video.videoHeight;
  frame.getContext('2d').drawImage(video, 0, 0);
  frame.toBlob(async (blob) => {
    stopCamera();
    await usePhoto(blob, 'Camera photo');
    await check();
  }, 'image/jpeg', 0.92);
}

// ---- wiring ----------------------------------------------------------------------------------

$('file').addEventListener('change', async (event) => {
  const [file] = event.target.files;
  // Cleared, so that choosing the same file again (after fixing it, say) is a change too.
  event.target.value = '';
  if (!file) return;
  try {
    await usePhoto(file, file.name);
    say('Photo ready: check it.');
  } catch (error) {
    say(error.message, true);
  }
});
$('check').addEventListener('click', check);
$('enroll').addEventListener('click', enroll);
$('authenticate').addEventListener('click', authenticate);
$('camera-start').addEventListener('click', startCamera);
$('camera-shoot').addEventListener('click', takePhoto);
$('camera-stop').addEventListener('click', stopCamera);
$('camera').addEventListener('loadeddata', () => {
  $('camera-shoot').disabled = false;
});
if (!cameraAvailable()) {
  $('camera-start').disabled = true;
  $('camera-note').hidden = false;
  $('camera-note').textContent = window.isSecureContext
    ? 'This browser offers no camera to web pages: choose a file instead.'
    : 'The camera needs HTTPS (or localhost): browsers do not offer it to pages over plain HTTP. Choose a file instead.';
}
