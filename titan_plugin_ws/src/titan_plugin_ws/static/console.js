// The Titan-AAS live console: one WebSocket to /ws/events (protocol: docs/events.md) carrying two
// subscriptions, the filtered event stream and the opened submodel. After any drop it reconnects
// and resubscribes with `since` = the last titanseq it saw, so nothing is missed or shown twice.
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
  submodel: null, // { id, sub, since, rows: Map(path -> {cell, kind}) }
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
      setStatus(state.paused ? "paused" : "live", `${state.paused ? "paused" : "live"} · head ${message.head}`);
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

function addEventRow(event) {
  const kind = event.type.replace("io.admin-shell.events.v1.", "");
  const row = document.createElement("tr");
  row.className = `event type-${kind}`;
  row.dataset.seq = event.titanseq;
  cell(row, event.titanseq);
  cell(row, (event.time || "").slice(11, 23));
  cell(row, kind, "type");
  cell(row, event.titanentity);
  const idCell = cell(row, "", "id");
  if (event.titanentity === "submodel" || event.titanentity === "element") {
    const link = document.createElement("a");
    link.className = "open";
    link.textContent = event.titanid;
    link.title = "watch this submodel";
    link.onclick = () => openSubmodel(event.titanid);
    idCell.append(link);
  } else {
    idCell.textContent = event.titanid;
  }
  cell(row, event.titanpath || "");
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
  td.colSpan = 7;
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

// --- the submodel view ------------------------------------------------------------------------

function elementValue(element) {
  switch (element.modelType) {
    case "Property":
      return element.value ?? "";
    case "MultiLanguageProperty":
      return (element.value || []).map((text) => `${text.language}: ${text.text}`).join(" | ");
    case "Range":
      return `${element.min ?? ""} … ${element.max ?? ""}`;
    case "File":
      return `${element.value ?? ""} (${element.contentType ?? ""})`;
    case "Blob":
      return `(${element.contentType ?? ""})`;
    case "ReferenceElement":
      return ((element.value && element.value.keys) || []).map((key) => key.value).join(" / ");
    default:
      return "";
  }
}

function valueOnlyText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  const isLangStrings = Array.isArray(value) &&
    value.every((item) => item && typeof item === "object" && Object.keys(item).length === 1);
  if (isLangStrings) return value.map((item) => Object.entries(item)[0].join(": ")).join(" | ");
  if ("min" in value || "max" in value) return `${value.min ?? ""} … ${value.max ?? ""}`;
  if ("contentType" in value) return `${value.value ?? ""} (${value.contentType})`;
  return JSON.stringify(value);
}

const CONTAINERS = new Set(["SubmodelElementCollection", "SubmodelElementList", "Entity", "AnnotatedRelationshipElement"]);

function children(element) {
  if (element.modelType === "Entity") return element.statements || [];
  if (element.modelType === "AnnotatedRelationshipElement") return element.annotations || [];
  return CONTAINERS.has(element.modelType) ? element.value || [] : [];
}

function addElementRows(elements, prefix, inList, rows, body) {
  elements.forEach((element, index) => {
    let path = element.idShort;
    if (inList) path = `${prefix}[${index}]`;
    else if (prefix) path = `${prefix}.${element.idShort}`;
    const row = body.insertRow();
    row.dataset.path = path;
    cell(row, path);
    cell(row, element.modelType);
    const valueCell = cell(row, String(elementValue(element)), "value");
    rows.set(path, { cell: valueCell, kind: element.modelType });
    addElementRows(children(element), path, element.modelType === "SubmodelElementList", rows, body);
  });
}

async function openSubmodel(id) {
  if (!id) return;
  $("submodel-id").value = id;
  let response;
  try {
    response = await fetch(`/submodels/${b64url(id)}`, { headers: authHeaders() });
  } catch (problem) {
    info(`cannot reach the server: ${problem}`);
    return;
  }
  if (!response.ok) {
    info(`cannot open ${id}: HTTP ${response.status}`);
    return;
  }
  // Every event up to X-Titan-Seq is in this answer: subscribing since it leaves no gap.
  const since = response.headers.get("X-Titan-Seq");
  const submodel = await response.json();
  const body = $("elements");
  body.replaceChildren();
  const rows = new Map();
  addElementRows(submodel.submodelElements || [], "", false, rows, body);
  const sameSubmodel = state.submodel && state.submodel.id === id;
  if (sameSubmodel) {
    state.submodel.rows = rows; // reloaded after a structural change: the subscription goes on
  } else {
    if (state.submodel) send({ type: "unsubscribe", id: state.submodel.sub });
    state.submodel = { id, sub: null, since, rows };
    subscribeSubmodel();
  }
  info(`${submodel.idShort || id}: ${rows.size} elements, read at titanseq ${since}; values change in place.`);
}

function subscribeSubmodel() {
  const watched = state.submodel;
  watched.sub = newSubscriptionId("submodel");
  const request = { type: "subscribe", id: watched.sub, filter: { ids: [watched.id] } };
  if (watched.since !== null) request.since = watched.since;
  send(request);
}

function applyToSubmodel(event) {
  const kind = event.type.replace("io.admin-shell.events.v1.", "");
  if (event.titanentity === "submodel" && kind === "deleted") {
    info(`${event.titanid} was deleted (titanseq ${event.titanseq}).`);
    return;
  }
  const row = event.titanentity === "element" ? state.submodel.rows.get(event.titanpath) : undefined;
  if (kind === "valueChanged" && row && !CONTAINERS.has(row.kind)) {
    row.cell.textContent = valueOnlyText(event.data);
    row.cell.classList.remove("changed");
    void row.cell.offsetWidth; // restart the highlight animation
    row.cell.classList.add("changed");
    return;
  }
  // Structure changed (or a container's value): read the submodel again, soon and once.
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => openSubmodel(state.submodel.id), 300);
}

async function refreshSubmodelList() {
  try {
    const response = await fetch("/submodels?limit=500", { headers: authHeaders() });
    if (!response.ok) return;
    const select = $("submodel-select");
    const { result } = await response.json();
    select.replaceChildren(new Option("— pick a submodel —", ""));
    for (const submodel of result || []) select.add(new Option(`${submodel.idShort || ""} — ${submodel.id}`, submodel.id));
  } catch (problem) {
    // The list is a convenience; the identifier field works without it.
  }
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
    const live = state.ws && state.ws.readyState === WebSocket.OPEN;
    if (live) setStatus(state.paused ? "paused" : "live", state.paused ? "paused" : "live");
  };
  $("clear").onclick = () => $("events").replaceChildren();
  $("open-submodel").onsubmit = (submitted) => {
    submitted.preventDefault();
    openSubmodel($("submodel-id").value.trim() || $("submodel-select").value);
  };
  $("submodel-select").onchange = () => openSubmodel($("submodel-select").value);
  setInterval(updateCounters, 1000);
  refreshSubmodelList();
  connect();
}

start();
