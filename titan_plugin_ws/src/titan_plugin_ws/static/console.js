// The Titan-AAS live console: one WebSocket to /ws/events (protocol: docs/events.md) carrying two
// subscriptions, the filtered event stream and the watched submodel (watch.js). After any drop it
// reconnects and resubscribes with `since` = the last titanseq it saw, so nothing is missed or
// shown twice. Loaded after sparkline.js and watch.js, whose functions it calls.
"use strict";

const MAX_ROWS = 500;
const MAX_HELD = 5000;
const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const $ = (id) => document.getElementById(id);

const state = {
  ws: null,
  retryMs: 500,
  retryTimer: null,
  pingTimer: null,
  pongDeadline: null,
  nextId: 1,
  stream: { sub: null, filter: {}, throttle: 0, since: null },
  submodel: null, // watch.js: { id, sub, since, readAt, rows: Map(path -> entry), histories }
  openAttempts: 0,
  head: null, // the newest titanseq this page knows of: welcome, every event, every REST read
  paused: false,
  held: [],
  received: 0,
  recent: [],
  reloadTimer: null,
};

// --- helpers ----------------------------------------------------------------------------------

function b64url(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function token() {
  return $("token").value.trim();
}

function authHeaders() {
  return token() ? { Authorization: `Bearer ${token()}` } : {};
}

function later(seq, other) {
  // titanseq values are decimal strings; keep the larger one.
  if (other === null || other === undefined) return seq;
  return BigInt(seq) > BigInt(other) ? seq : other;
}

function setStatus(stateName, text) {
  const status = $("status");
  status.dataset.state = stateName;
  status.textContent = text;
}

function showLive() {
  setStatus(state.paused ? "paused" : "live", state.paused ? "paused" : "live");
}

// The head counter follows whatever this page learns of the server's position: `welcome`, each
// event of either subscription and each REST read's X-Titan-Seq. Events a filter leaves out do
// not reach the page, so behind a narrow filter it moves only when the page reads or receives.
function noteSeq(seq) {
  if (seq === null || seq === undefined || seq === "") return;
  const newest = later(String(seq), state.head);
  if (newest === state.head) return;
  state.head = newest;
  const head = $("head");
  head.dataset.seq = newest;
  head.textContent = `head ${newest}`;
}

function info(text) {
  $("submodel-info").textContent = text;
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function newSubscriptionId(kind) {
  return `${kind}-${state.nextId++}`;
}

// --- the connection ---------------------------------------------------------------------------

function connect() {
  clearTimeout(state.retryTimer);
  if (state.ws) {
    state.ws.onclose = null;
    state.ws.close(1000, "reconnecting");
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/ws/events`);
  state.ws = ws;
  setStatus("connecting", "connecting…");
  ws.onopen = () => {
    // The token goes in a message, not the URL, so it stays out of access logs.
    if (token()) send({ type: "auth", token: token() });
  };
  ws.onmessage = (message) => onMessage(JSON.parse(message.data));
  ws.onclose = (closed) => onClose(ws, closed);
}

function onClose(ws, closed) {
  if (ws !== state.ws) return;
  clearInterval(state.pingTimer);
  clearTimeout(state.pongDeadline);
  const reason = closed.reason ? `: ${closed.reason}` : "";
  if (closed.code === 4401 || closed.code === 4403 || closed.code === 4408) {
    // Refused: retrying with the same token would be refused again.
    setStatus("closed", `closed ${closed.code}${reason} — enter a token and press Reconnect`);
    return;
  }
  setStatus("closed", `closed ${closed.code}${reason} — reconnecting in ${(state.retryMs / 1000).toFixed(1)} s`);
  state.retryTimer = setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 10000);
}

function keepAlive() {
  clearInterval(state.pingTimer);
  state.pingTimer = setInterval(() => {
    send({ type: "ping" });
    state.pongDeadline = setTimeout(() => state.ws && state.ws.close(4000, "no pong"), PONG_WITHIN_MS);
  }, PING_EVERY_MS);
}

function onMessage(message) {
  switch (message.type) {
    case "welcome":
      state.retryMs = 500;
      if (state.stream.since === null) state.stream.since = message.head;
      // A new connection has no subscriptions yet: whatever ids the last one used are gone.
      state.stream.sub = null;
      if (state.submodel) state.submodel.sub = null;
      showLive();
      noteSeq(message.head);
      $("status").title = `${message.server} ${message.version}, oldest retained event ${message.oldest}`;
      keepAlive();
      subscribeStream();
      if (state.submodel) subscribeSubmodel();
      break;
    case "event":
      onEvent(message.subscription, message.event);
      break;
    case "error":
      onError(message);
      break;
    case "pong":
      clearTimeout(state.pongDeadline);
      break;
    default:
      break; // "subscribed", and message types this page does not know
  }
}

function onError(message) {
  if (message.code === "history_expired" && message.id === state.stream.sub) {
    // Too long away: continue live and say that events were missed.
    state.stream.since = null;
    addGapRow(`events were missed: ${message.message}`);
    subscribeStream();
    return;
  }
  if (message.code === "history_expired" && state.submodel && message.id === state.submodel.sub) {
    // Too long away to catch up from events: read the submodel again and follow from there.
    state.submodel.sub = null;
    openSubmodel(state.submodel.id);
    return;
  }
  addGapRow(`${message.code}: ${message.message}`);
}

// --- the event stream -------------------------------------------------------------------------

function subscribeStream() {
  if (state.stream.sub) send({ type: "unsubscribe", id: state.stream.sub });
  state.stream.sub = newSubscriptionId("stream");
  const request = { type: "subscribe", id: state.stream.sub, filter: state.stream.filter };
  if (state.stream.since !== null) request.since = state.stream.since;
  if (state.stream.throttle > 0) request.throttle_ms = state.stream.throttle;
  send(request);
}

function onEvent(subscription, event) {
  noteSeq(event.titanseq);
  if (subscription === state.stream.sub) {
    state.stream.since = later(event.titanseq, state.stream.since);
    state.received += 1;
    state.recent.push(Date.now());
    if (state.paused) {
      state.held.push(event);
      if (state.held.length > MAX_HELD) state.held.shift();
    } else {
      addEventRow(event);
    }
    if (event.titanentity === "submodel" && event.type.endsWith(".created")) refreshSubmodelList();
  } else if (state.submodel && subscription === state.submodel.sub) {
    state.submodel.since = later(event.titanseq, state.submodel.since);
    applyToSubmodel(event);
  }
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

// Text that may break after a "/", "#" or "." (identifiers are URIs, paths are dotted) and between
// CamelCase words (idShorts) before it breaks anywhere else.
function breakable(text) {
  const fragment = document.createDocumentFragment();
  for (const piece of text.split(/(?<=[/#.])|(?<=[a-z0-9])(?=[A-Z])/)) fragment.append(piece, document.createElement("wbr"));
  return fragment;
}

function detail(text, className) {
  const line = document.createElement("span");
  line.className = `detail${className ? ` ${className}` : ""}`;
  line.append(breakable(text));
  return line;
}

// Four columns, two lines each where needed: seq over time, type over entity, the identifier
// over the idShortPath, and the data. Seven columns did not fit a laptop screen.
function addEventRow(event) {
  const kind = event.type.replace("io.admin-shell.events.v1.", "");
  const row = document.createElement("tr");
  row.className = `event type-${kind}`;
  row.dataset.seq = event.titanseq;
  cell(row, event.titanseq, "seq").append(detail((event.time || "").slice(11, 23), "time"));
  cell(row, kind, "type").append(detail(event.titanentity, "entity"));
  const subject = cell(row, "", "subject");
  if (event.titanentity === "submodel" || event.titanentity === "element") {
    const link = document.createElement("a");
    link.className = "open";
    link.append(breakable(event.titanid));
    link.title = "watch this submodel";
    link.onclick = () => openSubmodel(event.titanid);
    subject.append(link);
  } else {
    subject.append(breakable(event.titanid));
  }
  if (event.titanpath) subject.append(detail(event.titanpath, "path"));
  const data = JSON.stringify(event.data);
  cell(row, data && data.length > 160 ? `${data.slice(0, 160)}…` : data || "", "data");
  const body = $("events");
  body.prepend(row);
  while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
}

function addGapRow(text) {
  const row = document.createElement("tr");
  row.className = "gap";
  const td = cell(row, text);
  td.colSpan = 4;
  $("events").prepend(row);
}

function readFilter() {
  const form = $("filters");
  const filter = {};
  for (const key of ["entity_types", "types"]) {
    const checked = [...form.querySelectorAll(`input[name="${key}"]:checked`)].map((box) => box.value);
    if (checked.length) filter[key] = checked;
  }
  for (const key of ["ids", "shell_ids", "paths", "semantic_ids"]) {
    const values = form.elements[key].value.split(",").map((value) => value.trim()).filter(Boolean);
    if (values.length) filter[key] = values;
  }
  state.stream.filter = filter;
  state.stream.throttle = Number(form.elements.throttle_ms.value) || 0;
}

function updateCounters() {
  const now = Date.now();
  state.recent = state.recent.filter((moment) => now - moment < 5000);
  const rate = (state.recent.length / 5).toFixed(1);
  const held = state.paused ? ` · ${state.held.length} held while paused` : "";
  $("counters").textContent = `${state.received} events · ${rate}/s${held}`;
}

// --- wiring -----------------------------------------------------------------------------------

function start() {
  $("token").value = sessionStorage.getItem("titan-token") || "";
  $("token").onchange = () => sessionStorage.setItem("titan-token", token());
  $("reconnect").onclick = () => {
    state.retryMs = 500;
    connect();
    refreshSubmodelList();
  };
  $("filters").onsubmit = (submitted) => {
    submitted.preventDefault();
    readFilter();
    subscribeStream();
  };
  $("pause").onclick = () => {
    state.paused = !state.paused;
    $("pause").setAttribute("aria-pressed", String(state.paused));
    $("pause").textContent = state.paused ? "Resume" : "Pause";
    if (!state.paused) {
      state.held.splice(0).forEach(addEventRow);
    }
    if (state.ws && state.ws.readyState === WebSocket.OPEN) showLive();
  };
  $("clear").onclick = () => $("events").replaceChildren();
  $("open-submodel").onsubmit = (submitted) => {
    submitted.preventDefault();
    openSubmodel($("submodel-id").value.trim() || $("submodel-select").value);
  };
  $("submodel-select").onchange = () => openSubmodel($("submodel-select").value);
  // `#submodel=<identifier>` in the address opens that submodel (the page keeps it current).
  window.onhashchange = () => {
    const id = submodelFromAddress();
    if (id && (!state.submodel || state.submodel.id !== id)) openSubmodel(id);
  };
  setInterval(updateCounters, 1000);
  connect();
  openSubmodel(submodelFromAddress());
  refreshSubmodelList();
}

start();
