// "Watch a submodel": read the whole submodel over REST, show each element's path and value side by
// side, subscribe `since` the read's X-Titan-Seq, and change values in place as events arrive.
// Numeric Properties get a sparkline of their recent values. Values come from the submodel's own
// elements and from the events' ValueOnly `data`, never from element `$value` reads.
"use strict";

const CONTAINERS = new Set(["SubmodelElementCollection", "SubmodelElementList", "Entity", "AnnotatedRelationshipElement"]);
const NUMERIC_TYPES = new Set([
  "xs:decimal", "xs:integer", "xs:double", "xs:float", "xs:long", "xs:int", "xs:short", "xs:byte",
  "xs:nonNegativeInteger", "xs:positiveInteger", "xs:nonPositiveInteger", "xs:negativeInteger",
  "xs:unsignedLong", "xs:unsignedInt", "xs:unsignedShort", "xs:unsignedByte",
]);
// Short names for the kind tag next to a path; Property, the common case, gets no tag.
const KIND_LABELS = {
  SubmodelElementCollection: "collection",
  SubmodelElementList: "list",
  MultiLanguageProperty: "text",
  ReferenceElement: "reference",
  RelationshipElement: "relationship",
  AnnotatedRelationshipElement: "relationship",
  BasicEventElement: "event",
};

// --- values -----------------------------------------------------------------------------------

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
      return referenceText(element.value);
    default:
      return "";
  }
}

function referenceText(reference) {
  return ((reference && reference.keys) || []).map((key) => key.value).join(" / ");
}

// The text of an event's ValueOnly `data`, written as elementValue writes the same value.
function valueOnlyText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value !== "object") return String(value);
  const isLangStrings = Array.isArray(value) &&
    value.every((item) => item && typeof item === "object" && Object.keys(item).length === 1);
  if (isLangStrings) return value.map((item) => Object.entries(item)[0].join(": ")).join(" | ");
  if ("keys" in value) return referenceText(value);
  if ("min" in value || "max" in value) return `${value.min ?? ""} … ${value.max ?? ""}`;
  if ("contentType" in value) return `${value.value ?? ""} (${value.contentType})`;
  return JSON.stringify(value);
}

function isNumericProperty(element) {
  return element.modelType === "Property" && NUMERIC_TYPES.has(element.valueType);
}

function children(element) {
  if (element.modelType === "Entity") return element.statements || [];
  if (element.modelType === "AnnotatedRelationshipElement") return element.annotations || [];
  return CONTAINERS.has(element.modelType) ? element.value || [] : [];
}

// --- rows -------------------------------------------------------------------------------------

// Rows come in document order, so an element's parents are the rows above it: the cell shows the
// last path segment indented by depth (a tree), the full path and the element's type on hover.
// A name too long for the column breaks between words, or where it must, never pushing the value
// out of view.
function pathCell(row, path, modelType) {
  const td = row.insertCell();
  td.className = "path";
  td.title = `${path}\n${modelType}`;
  td.style.setProperty("--depth", String((path.match(/[.[]/g) || []).length));
  const leafStart = /(\[\d+\]|[^.[\]]+)$/.exec(path)?.index ?? 0;
  const leaf = document.createElement("span");
  leaf.className = "leaf";
  // idShorts are CamelCase: a long one may break between its words before anywhere else.
  for (const word of path.slice(leafStart).split(/(?<=[a-z0-9])(?=[A-Z])/)) leaf.append(word, document.createElement("wbr"));
  td.append(leaf);
  if (modelType !== "Property") {
    const tag = document.createElement("span");
    tag.className = "kind";
    tag.textContent = KIND_LABELS[modelType] || modelType.toLowerCase();
    td.append(tag);
  }
}

function valueCell(row, element, values) {
  const td = row.insertCell();
  td.className = "value";
  const reading = document.createElement("span");
  reading.className = "reading";
  td.append(reading);
  const entry = { kind: element.modelType, cell: td, reading, numeric: isNumericProperty(element), spark: null, values };
  if (CONTAINERS.has(element.modelType)) {
    const count = children(element).length;
    reading.textContent = `${count} element${count === 1 ? "" : "s"}`;
    reading.classList.add("muted");
    return entry;
  }
  const text = String(elementValue(element));
  reading.textContent = text;
  if (entry.numeric) {
    entry.spark = createSparkline();
    td.append(entry.spark);
    const number = Number(element.value);
    // A reload after a structural change keeps the history; add the read value only if it moved.
    if (element.value !== undefined && element.value !== "" && Number.isFinite(number) && values.at(-1) !== number) {
      values.push(number);
    }
    drawSparkline(entry.spark, values);
  }
  return entry;
}

function addElementRows(elements, prefix, inList, watched, body) {
  elements.forEach((element, index) => {
    let path = element.idShort;
    if (inList) path = `${prefix}[${index}]`;
    else if (prefix) path = `${prefix}.${element.idShort}`;
    const row = body.insertRow();
    row.dataset.path = path;
    row.dataset.kind = element.modelType;
    if (CONTAINERS.has(element.modelType)) row.className = "group";
    pathCell(row, path, element.modelType);
    if (!watched.histories.has(path)) watched.histories.set(path, []);
    watched.rows.set(path, valueCell(row, element, watched.histories.get(path)));
    addElementRows(children(element), path, element.modelType === "SubmodelElementList", watched, body);
  });
}

// --- opening and following a submodel ---------------------------------------------------------

async function openSubmodel(id) {
  if (!id) return;
  const attempt = ++state.openAttempts; // a later open (another pick, a reload) wins over this one
  $("submodel-id").value = id;
  let response;
  try {
    response = await fetch(`/submodels/${b64url(id)}`, { headers: authHeaders() });
  } catch (problem) {
    info(`cannot reach the server: ${problem}`);
    return;
  }
  if (attempt !== state.openAttempts) return;
  if (!response.ok) {
    info(`cannot open ${id}: HTTP ${response.status}`);
    return;
  }
  // Every event up to X-Titan-Seq is in this answer: subscribing since it leaves no gap.
  const since = response.headers.get("X-Titan-Seq");
  const submodel = await response.json();
  if (attempt !== state.openAttempts) return;
  noteSeq(since);
  const sameSubmodel = state.submodel && state.submodel.id === id;
  const watched = sameSubmodel
    ? state.submodel // reloaded after a structural change: the subscription and histories go on
    : { id, sub: null, since, histories: new Map() };
  if (!sameSubmodel && state.submodel) send({ type: "unsubscribe", id: state.submodel.sub });
  watched.readAt = since;
  watched.rows = new Map();
  const body = document.createElement("tbody");
  body.id = "elements";
  addElementRows(submodel.submodelElements || [], "", false, watched, body);
  $("elements").replaceWith(body);
  $("elements-frame").classList.remove("stale");
  state.submodel = watched;
  if (!sameSubmodel || watched.sub === null) {
    watched.since = since; // a new watch, or one whose subscription was refused (history expired)
    subscribeSubmodel();
  }
  $("submodel-select").value = [...$("submodel-select").options].some((option) => option.value === id) ? id : "";
  history.replaceState(null, "", `#submodel=${encodeURIComponent(id)}`);
  const name = submodel.idShort ? `${submodel.idShort}: ` : "";
  info(`${name}${watched.rows.size} elements, read at titanseq ${since}; values change in place.`);
}

function subscribeSubmodel() {
  const watched = state.submodel;
  watched.sub = newSubscriptionId("submodel");
  const request = { type: "subscribe", id: watched.sub, filter: { ids: [watched.id] } };
  if (watched.since !== null) request.since = watched.since;
  send(request);
}

function isAlreadyShown(entry, data) {
  // Writes that change nothing emit nothing, so an event carrying the value on screen repeats a
  // change the read already showed (X-Titan-Seq may lag a commit): no new sparkline point.
  if (entry.numeric) return entry.values.length > 0 && Number(data) === entry.values.at(-1);
  return valueOnlyText(data) === entry.reading.textContent;
}

function showValue(entry, data) {
  entry.reading.textContent = valueOnlyText(data);
  if (entry.numeric && Number.isFinite(Number(data))) pushSparkValue(entry.spark, entry.values, Number(data));
  entry.cell.classList.remove("changed");
  void entry.cell.offsetWidth; // restart the highlight animation
  entry.cell.classList.add("changed");
}

function applyToSubmodel(event) {
  const watched = state.submodel;
  // The last read already holds every change up to its X-Titan-Seq.
  if (watched.readAt !== null && BigInt(event.titanseq) <= BigInt(watched.readAt)) return;
  const kind = event.type.replace("io.admin-shell.events.v1.", "");
  if (event.titanentity === "submodel" && kind === "deleted") {
    info(`${event.titanid} was deleted (titanseq ${event.titanseq}).`);
    $("elements-frame").classList.add("stale");
    return;
  }
  const entry = event.titanentity === "element" ? watched.rows.get(event.titanpath) : undefined;
  if (kind === "valueChanged" && entry && !CONTAINERS.has(entry.kind)) {
    if (!isAlreadyShown(entry, event.data)) showValue(entry, event.data);
    return;
  }
  // Structure changed (or a container's value): read the submodel again, soon and once.
  clearTimeout(state.reloadTimer);
  state.reloadTimer = setTimeout(() => openSubmodel(watched.id), 300);
}

async function refreshSubmodelList() {
  let result;
  try {
    const response = await fetch("/submodels?limit=500", { headers: authHeaders() });
    if (!response.ok) return;
    noteSeq(response.headers.get("X-Titan-Seq"));
    ({ result } = await response.json());
  } catch (problem) {
    return; // The list is a convenience; the identifier field works without it.
  }
  const select = $("submodel-select");
  select.replaceChildren(new Option("— pick a submodel —", ""));
  for (const submodel of result || []) select.add(new Option(`${submodel.idShort || ""} — ${submodel.id}`, submodel.id));
  if (state.submodel) select.value = state.submodel.id;
  // Never an empty view on arrival: with nothing chosen yet, watch the first submodel.
  if (state.openAttempts === 0 && result && result.length) openSubmodel(result[0].id);
}

function submodelFromAddress() {
  const match = /^#submodel=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : "";
}
