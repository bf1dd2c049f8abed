/* Rosetta playground: one operation through REST, GraphQL, gRPC (proxied), SOAP and WebSocket, side by side,
   and the webhook message the change produced. Plain browser JavaScript: no build step, no dependencies. */
"use strict";

const STYLES = ["rest", "graphql", "grpc", "soap", "websocket"];
const STYLE_NAMES = { rest: "REST", graphql: "GraphQL", grpc: "gRPC", soap: "SOAP", websocket: "WebSocket" };

// Which inputs each operation takes, and whether it changes state (and so produces an event and a webhook).
const OPERATIONS = {
  listRooms: { fields: [], change: false },
  getRoom: { fields: ["roomId"], change: false },
  getReservation: { fields: ["reservationId"], change: false },
  listReservations: { fields: ["roomId", "status", "page", "pageSize"], change: false },
  createReservation: {
    fields: ["roomId", "guestName", "date", "startTime", "endTime", "attendees", "purpose", "slotPerStyle"],
    change: true,
  },
  modifyReservation: { fields: ["reservationId", "attendees", "purpose"], change: true },
  cancelReservation: { fields: ["reservationId", "reason"], change: true },
  checkInReservation: { fields: ["reservationId"], change: true },
};
const INT_FIELDS = new Set(["attendees", "page", "pageSize"]);
const CRLF = "\r\n";
const SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP_NS = "urn:rosetta:reservations:v1";

const $ = (selector, root = document) => root.querySelector(selector);
const encoder = new TextEncoder();
const byteLength = (text) => encoder.encode(text).length;
const pretty = () => $("#pretty").checked;

let serverState = { styles: [...STYLES, "webhooks"], lastSequence: 0, faults: null, credential: null };

// With authentication on, the server hands a page opened on its own machine (or in workshop mode) a
// short-lived token of its `demo` client (in /playground/state); anyone else signs in with a client id and
// secret, exchanged at /oauth/token (OAuth 2.0 client credentials). Every style carries the token its own
// way, and the wire views show it.
let signedIn = null; // { clientId, token, expiresAt } once the visitor has signed in

function bearer() {
  if (signedIn && signedIn.expiresAt > Date.now()) return signedIn.token;
  return serverState.credential ? serverState.credential.token : null;
}

async function signIn(event) {
  event.preventDefault();
  const clientId = $("#sign-in-id").value.trim();
  const response = await fetch("/oauth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: $("#sign-in-secret").value,
    }),
  });
  const answer = await response.json().catch(() => ({}));
  $("#sign-in-secret").value = "";
  if (!response.ok) {
    signedIn = null;
    $("#sign-in-status").textContent = `refused: ${answer.error_description || answer.error || response.status}`;
    return;
  }
  signedIn = { clientId, token: answer.access_token, expiresAt: Date.now() + answer.expires_in * 1000 };
  showSignIn();
}

function showSignIn() {
  $("#sign-in").hidden = !serverState.signIn;
  $("#sign-in-status").textContent = bearer()
    ? `signed in as ${signedIn ? signedIn.clientId : "demo"}`
    : "not signed in: every operation but the room catalog answers UNAUTHENTICATED";
}

// Every request this page makes gets its headers here, and every WebSocket its URL: one place, so that a
// credential (an API key, a token) is one change.
function requestHeaders(headers = {}) {
  return bearer() ? { ...headers, Authorization: `Bearer ${bearer()}` } : { ...headers };
}

function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}
let autoFilledReservation = null; // the id the page created for getReservation/modifyReservation

// -- inputs ---------------------------------------------------------------------------------------

function readInputs(operation) {
  const values = {};
  for (const name of OPERATIONS[operation].fields) {
    const element = $("#" + name);
    if (element.type === "checkbox") continue;
    const raw = element.value.trim();
    if (raw === "") continue; // an empty field is absent, so the server says which one is missing
    values[name] = INT_FIELDS.has(name) && /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  return values;
}

function showFields() {
  const operation = $("#operation").value;
  if (["cancelReservation", "checkInReservation"].includes(operation) && $("#reservationId").value === autoFilledReservation) {
    $("#reservationId").value = ""; // one-way changes: each style gets its own reservation instead
  }
  const wanted = new Set(OPERATIONS[operation].fields);
  for (const label of document.querySelectorAll("#inputs label[data-field]")) {
    label.hidden = !wanted.has(label.dataset.field);
  }
}

function isoDate(moment) {
  return moment.toISOString().slice(0, 10);
}

function addDays(date, days) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return date; // not a date: sent as typed, the server judges it
  const moment = new Date(date + "T00:00:00Z");
  if (Number.isNaN(moment.getTime())) return date;
  moment.setUTCDate(moment.getUTCDate() + days);
  return isoDate(moment);
}

function randomFutureDate(minDays, maxDays) {
  const days = minDays + Math.floor(Math.random() * (maxDays - minDays));
  return addDays(isoDate(new Date()), days);
}

function inputFor(operation, base, index, setup) {
  // A reservation created for this style goes first, where a typed one would be.
  const input = setup && setup.perStyle ? { reservationId: setup.perStyle[index], ...base } : { ...base };
  if (operation === "createReservation" && $("#slotPerStyle").checked && typeof input.date === "string") {
    input.date = addDays(input.date, index);
  }
  return input;
}

// -- setup: reservations to read or change when none is given --------------------------------------

async function createScratchReservation() {
  for (let attempt = 0; attempt < 8; attempt++) {
    const response = await fetch("/api/v1/reservations", {
      method: "POST",
      headers: requestHeaders({ "content-type": "application/json", accept: "application/json" }),
      body: JSON.stringify({
        roomId: "room-c",
        guestName: "Playground setup",
        date: randomFutureDate(1000, 3000),
        startTime: "08:00",
        endTime: "09:00",
        attendees: 2,
        purpose: "Created by the playground before the run",
      }),
    });
    if (response.status === 201) return (await response.json()).reservationId;
    if (response.status !== 409) throw new Error(`setup: POST /api/v1/reservations answered ${response.status}`);
  }
  throw new Error("setup: no free slot found; enter a reservationId");
}

async function prepare(operation, base) {
  if (!OPERATIONS[operation].fields.includes("reservationId") || base.reservationId !== undefined) return null;
  if (operation === "getReservation" || operation === "modifyReservation") {
    const id = await createScratchReservation();
    $("#reservationId").value = id;
    autoFilledReservation = id;
    base.reservationId = id;
    return { note: `Setup: created ${id} (via REST) for every style to ${operation === "getReservation" ? "read" : "modify"}.` };
  }
  // Cancel and check-in are one-way: each style gets a reservation of its own.
  const perStyle = [];
  for (const _ of STYLES) perStyle.push(await createScratchReservation());
  return {
    perStyle,
    note: "Setup: created one reservation per style (via REST): " +
      STYLES.map((style, i) => `${STYLE_NAMES[style]} ${perStyle[i]}`).join(", ") + ".",
  };
}

// -- display helpers -------------------------------------------------------------------------------

function escapeXml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function prettyXml(text) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) return text;
  const declaration = text.startsWith("<?xml") ? text.slice(0, text.indexOf("?>") + 2) + "\n" : "";
  const format = (element, depth) => {
    const pad = "  ".repeat(depth);
    const attributes = [...element.attributes].map((a) => ` ${a.name}="${escapeXml(a.value)}"`).join("");
    const children = [...element.children];
    if (children.length === 0) {
      const content = element.textContent;
      return content === ""
        ? `${pad}<${element.tagName}${attributes}/>`
        : `${pad}<${element.tagName}${attributes}>${escapeXml(content)}</${element.tagName}>`;
    }
    const inner = children.map((child) => format(child, depth + 1)).join("\n");
    return `${pad}<${element.tagName}${attributes}>\n${inner}\n${pad}</${element.tagName}>`;
  };
  return declaration + format(doc.documentElement, 0);
}

function showBody(text, contentType) {
  if (!pretty() || !text) return text;
  if (/json/.test(contentType || "")) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  }
  if (/xml/.test(contentType || "")) return prettyXml(text);
  return text;
}

const json = (value) => JSON.stringify(value, null, 2);

function headline(operation, value) {
  if (value === null || value === undefined) return "";
  switch (operation) {
    case "getRoom":
      return `${value.name} (${value.roomId}, capacity ${value.capacity})`;
    case "listRooms":
      return `${value.length} rooms: ${value.map((room) => room.name).join(", ")}`;
    case "listReservations":
      return `${value.items.length} shown of ${value.totalItems}`;
    default:
      return `${value.reservationId} · ${value.status} · version ${value.version}`;
  }
}

function panelOf(style) {
  return $("#panel-" + style);
}

function summaryCell(metric, style) {
  return $(`#summary-row tr[data-metric="${metric}"] td[data-style="${style}"]`);
}

function renderSummary(style, result) {
  const cells = {
    status: result.statusShort ?? (result.outcome === "unavailable" ? "not served" : ""),
    time: result.ms !== undefined ? timing(result.ms) : "",
    bytes: result.bytesOut !== undefined ? `${result.bytesOut} / ${result.bytesIn}` : "",
    trips: result.trips ?? "",
  };
  for (const [metric, text] of Object.entries(cells)) {
    const cell = summaryCell(metric, style);
    cell.textContent = text;
    cell.dataset.outcome = result.outcome;
  }
}

function render(style, result) {
  const panel = panelOf(style);
  panel.dataset.outcome = result.outcome;
  renderSummary(style, result);
  $(".why", panel).textContent = result.why ? "Why: " + result.why : "";
  $(".summary", panel).textContent = result.summary;
  $(".request", panel).textContent = result.request;
  $(".response", panel).textContent = result.response;
  for (const old of panel.querySelectorAll("details")) old.remove();
  for (const extra of result.extras || []) {
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    const pre = document.createElement("pre");
    summary.textContent = extra.title;
    pre.textContent = extra.text;
    details.append(summary, pre);
    $(".request", panel).after(details);
  }
  $(".metrics", panel).textContent = result.metrics;
}

function timing(ms) {
  return `${ms.toFixed(1)} ms`;
}

// -- HTTP styles (REST, GraphQL, SOAP): fetch, and account for what went over the wire ---------------

async function exchange(method, path, headers, body) {
  headers = requestHeaders(headers);
  const shown = { Host: location.host, ...headers };
  if (body !== undefined) shown["Content-Length"] = String(byteLength(body));
  const head =
    `${method} ${path} HTTP/1.1${CRLF}` +
    Object.entries(shown).map(([name, value]) => `${name}: ${value}${CRLF}`).join("") +
    CRLF;
  const started = performance.now();
  const response = await fetch(path, { method, headers: requestHeaders(headers), body, cache: "no-store" });
  const buffer = await response.arrayBuffer();
  const ms = performance.now() - started;
  const text = new TextDecoder().decode(buffer);
  const responseHead =
    `HTTP/1.1 ${response.status} ${response.statusText}${CRLF}` +
    [...response.headers].map(([name, value]) => `${name}: ${value}${CRLF}`).join("") +
    CRLF;
  return {
    head,
    body: body ?? "",
    requestBytes: byteLength(head) + (body ? byteLength(body) : 0),
    status: response.status,
    statusLine: `${response.status} ${response.statusText}`.trim(),
    contentType: response.headers.get("content-type") || "",
    responseHead,
    text,
    responseBytes: byteLength(responseHead) + buffer.byteLength,
    ms,
  };
}

function httpResult(wire, outcome, summary, extras) {
  return {
    outcome,
    summary,
    statusShort: wire.statusLine,
    ms: wire.ms,
    bytesOut: wire.requestBytes,
    bytesIn: wire.responseBytes,
    trips: "1",
    request: wire.head + (wire.body ? showBody(wire.body, wire.head.match(/Content-Type: (.*)/)?.[1]) : ""),
    response: wire.responseHead + showBody(wire.text, wire.contentType),
    extras,
    metrics: `${timing(wire.ms)} · request ${wire.requestBytes} B (body ${byteLength(wire.body)} B) · ` +
      `response ${wire.responseBytes} B (body ${byteLength(wire.text)} B)`,
  };
}

// REST ------------------------------------------------------------------------------------------------

function restRequest(operation, input) {
  const api = "/api/v1";
  const id = encodeURIComponent(input.reservationId ?? "");
  const json = { "Content-Type": "application/json" };
  switch (operation) {
    case "listRooms":
      return { method: "GET", path: `${api}/rooms` };
    case "getRoom":
      return { method: "GET", path: `${api}/rooms/${encodeURIComponent(input.roomId ?? "")}` };
    case "getReservation":
      return { method: "GET", path: `${api}/reservations/${id}` };
    case "listReservations": {
      const query = new URLSearchParams();
      for (const name of ["roomId", "status", "page", "pageSize"]) {
        if (input[name] !== undefined) query.set(name, String(input[name]));
      }
      const search = query.toString();
      return { method: "GET", path: `${api}/reservations${search ? "?" + search : ""}` };
    }
    case "createReservation":
      return { method: "POST", path: `${api}/reservations`, headers: json, body: JSON.stringify(input) };
    case "modifyReservation": {
      const { reservationId, ...changes } = input;
      return {
        method: "PATCH",
        path: `${api}/reservations/${id}`,
        headers: { "Content-Type": "application/merge-patch+json" },
        body: JSON.stringify(changes),
      };
    }
    case "cancelReservation":
      return input.reason === undefined
        ? { method: "POST", path: `${api}/reservations/${id}/cancel` }
        : { method: "POST", path: `${api}/reservations/${id}/cancel`, headers: json, body: JSON.stringify({ reason: input.reason }) };
    case "checkInReservation":
      return { method: "POST", path: `${api}/reservations/${id}/check-in` };
  }
  throw new Error("unknown operation " + operation);
}

function restValue(operation, body) {
  if (operation === "listRooms") return body.items;
  if (operation === "listReservations") return { items: body.items, totalItems: body.pagination.totalItems };
  return body;
}

async function runRest(operation, input, language) {
  const request = restRequest(operation, input);
  const headers = { Accept: "application/json", "Accept-Language": language, ...(request.headers || {}) };
  const wire = await exchange(request.method, request.path, headers, request.body);
  let body = null;
  try {
    body = JSON.parse(wire.text);
  } catch {
    // not JSON: shown as is
  }
  if (wire.status >= 200 && wire.status < 300 && body) {
    const result = httpResult(wire, "ok", `${wire.statusLine} · ${headline(operation, restValue(operation, body))}`);
    result.why = WHY.restOk;
    return result;
  }
  const problem = body && body.code ? `${body.code} — ${body.detail}` : wire.text.slice(0, 120);
  const result = httpResult(wire, "error", `${wire.statusLine} · ${problem}`);
  result.why = injected(wire.status === 503 ? "UNAVAILABLE" : wire.status >= 500 ? "INTERNAL" : null) || WHY.restError(wire.status);
  return result;
}

// GraphQL ---------------------------------------------------------------------------------------------

const GQL_ROOM = "roomId name capacity location";
const GQL_RESERVATION =
  "reservationId roomId guestName date startTime endTime attendees purpose\n    status cancelReason version createdAt updatedAt actions";
const GRAPHQL = {
  listRooms: { field: "rooms", document: `query ListRooms {\n  rooms { ${GQL_ROOM} }\n}` },
  getRoom: {
    field: "room",
    document: `query GetRoom($roomId: ID!) {\n  room(roomId: $roomId) { ${GQL_ROOM} }\n}`,
    variables: (input) => ({ roomId: input.roomId }),
  },
  getReservation: {
    field: "reservation",
    document: `query GetReservation($reservationId: ID!) {\n  reservation(reservationId: $reservationId) {\n    ${GQL_RESERVATION}\n  }\n}`,
    variables: (input) => ({ reservationId: input.reservationId }),
  },
  listReservations: {
    field: "reservations",
    document:
      "query ListReservations($filter: ReservationFilter, $page: Int! = 1, $pageSize: Int! = 20) {\n" +
      "  reservations(filter: $filter, page: $page, pageSize: $pageSize) {\n" +
      `    items { reservationId roomId guestName date startTime endTime status version }\n` +
      "    page pageSize totalItems totalPages\n  }\n}",
    variables: (input) => {
      const filter = {};
      if (input.roomId !== undefined) filter.roomId = input.roomId;
      if (input.status !== undefined) filter.status = input.status;
      const variables = { filter };
      if (input.page !== undefined) variables.page = input.page;
      if (input.pageSize !== undefined) variables.pageSize = input.pageSize;
      return variables;
    },
  },
  createReservation: {
    field: "createReservation",
    document: `mutation CreateReservation($input: CreateReservationInput!) {\n  createReservation(input: $input) {\n    ${GQL_RESERVATION}\n  }\n}`,
    variables: (input) => ({ input }),
  },
  modifyReservation: {
    field: "modifyReservation",
    document:
      "mutation ModifyReservation($reservationId: ID!, $input: ModifyReservationInput!) {\n" +
      `  modifyReservation(reservationId: $reservationId, input: $input) {\n    ${GQL_RESERVATION}\n  }\n}`,
    variables: ({ reservationId, ...changes }) => ({ reservationId, input: changes }),
  },
  cancelReservation: {
    field: "cancelReservation",
    document:
      "mutation CancelReservation($reservationId: ID!, $reason: String) {\n" +
      `  cancelReservation(reservationId: $reservationId, reason: $reason) {\n    ${GQL_RESERVATION}\n  }\n}`,
    variables: (input) => ({ reservationId: input.reservationId, reason: input.reason }),
  },
  checkInReservation: {
    field: "checkInReservation",
    document:
      "mutation CheckInReservation($reservationId: ID!) {\n" +
      `  checkInReservation(reservationId: $reservationId) {\n    ${GQL_RESERVATION}\n  }\n}`,
    variables: (input) => ({ reservationId: input.reservationId }),
  },
};

async function runGraphQL(operation, input, language) {
  const spec = GRAPHQL[operation];
  const variables = spec.variables ? spec.variables(input) : {};
  const body = JSON.stringify({ query: spec.document, variables });
  const headers = { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": language };
  const wire = await exchange("POST", "/graphql", headers, body);
  $("#open-graphiql").href =
    `/graphql?query=${encodeURIComponent(spec.document)}&variables=${encodeURIComponent(JSON.stringify(variables))}`;
  const result = httpResult(wire, "error", "");
  // The document and variables are easier to read than the JSON string that carries them.
  result.request = wire.head + `# query\n${spec.document}\n\n# variables\n${json(variables)}`;
  result.extras = [{ title: "exact body as sent", text: body }];
  let payload = null;
  try {
    payload = JSON.parse(wire.text);
  } catch {
    result.summary = `HTTP ${wire.statusLine} · unreadable response`;
    return result;
  }
  if (payload.errors && payload.errors.length) {
    const first = payload.errors[0];
    const code = first.extensions && first.extensions.code;
    result.summary = `HTTP ${wire.statusLine} · errors[0].extensions.code = ${code} — ${first.message}`;
    result.statusShort = `${wire.status} + errors`;
    result.why = injected(code) || WHY.graphqlError(wire.status);
    return result;
  }
  let value = payload.data && payload.data[spec.field];
  if (operation === "listReservations" && value) value = { items: value.items, totalItems: value.totalItems };
  result.outcome = "ok";
  result.summary = `HTTP ${wire.statusLine} · data.${spec.field} · ${headline(operation, value)}`;
  result.why = WHY.graphqlOk;
  return result;
}

// SOAP ------------------------------------------------------------------------------------------------

// Element order follows each request's xs:sequence in the WSDL (document/literal is strict about it).
const SOAP_ELEMENTS = {
  listRooms: [],
  getRoom: ["roomId"],
  getReservation: ["reservationId"],
  listReservations: ["status", "roomId", "dateFrom", "dateTo", "guestName", "sort", "page", "pageSize"],
  createReservation: ["roomId", "guestName", "date", "startTime", "endTime", "attendees", "purpose"],
  modifyReservation: ["reservationId", "roomId", "guestName", "date", "startTime", "endTime", "attendees", "purpose"],
  cancelReservation: ["reservationId", "reason"],
  checkInReservation: ["reservationId"],
};

function soapEnvelope(operation, input) {
  const name = operation[0].toUpperCase() + operation.slice(1);
  const children = SOAP_ELEMENTS[operation]
    .filter((element) => input[element] !== undefined)
    .map((element) => `      <r:${element}>${escapeXml(String(input[element]))}</r:${element}>`);
  const body = children.length ? `    <r:${name}>\n${children.join("\n")}\n    </r:${name}>` : `    <r:${name}/>`;
  return {
    action: name,
    envelope:
      `<?xml version="1.0" encoding="utf-8"?>\n` +
      `<soap:Envelope xmlns:soap="${SOAP_ENV}" xmlns:r="${SOAP_NS}">\n` +
      `  <soap:Body>\n${body}\n  </soap:Body>\n</soap:Envelope>`,
  };
}

function xmlObject(element) {
  const value = {};
  for (const child of element.children) {
    value[child.localName] = child.children.length ? xmlObject(child) : child.textContent;
  }
  return value;
}

function soapValue(operation, response) {
  const named = (name) => [...response.children].filter((child) => child.localName === name);
  switch (operation) {
    case "listRooms":
      return named("rooms").map(xmlObject);
    case "getRoom":
      return xmlObject(named("room")[0]);
    case "listReservations":
      return { items: named("items").map(xmlObject), totalItems: named("totalItems")[0]?.textContent };
    default:
      return xmlObject(named("reservation")[0]);
  }
}

async function runSoap(operation, input, language) {
  const { action, envelope } = soapEnvelope(operation, input);
  const headers = {
    "Content-Type": "text/xml; charset=utf-8",
    SOAPAction: `"${action}"`,
    "Accept-Language": language,
  };
  const wire = await exchange("POST", "/soap", headers, envelope);
  const doc = new DOMParser().parseFromString(wire.text, "application/xml");
  const soapBody = doc.getElementsByTagNameNS(SOAP_ENV, "Body")[0];
  const first = soapBody && soapBody.firstElementChild;
  if (!first) return httpResult(wire, "error", `HTTP ${wire.statusLine} · no SOAP body`);
  if (first.localName === "Fault") {
    const text = (name) => [...first.children].find((child) => child.localName === name)?.textContent;
    const result = httpResult(wire, "error", `HTTP ${wire.statusLine} · faultcode ${text("faultcode")} — ${text("faultstring")}`);
    result.statusShort = `${wire.status} ${(text("faultcode") || "").replace(/^[^:]*:/, "")}`;
    result.why = injected((/Server\.(\w+)/.exec(text("faultcode") || "") || [])[1]) || WHY.soapFault(wire.status, text("faultcode") || "");
    return result;
  }
  const result = httpResult(
    wire,
    "ok",
    `HTTP ${wire.statusLine} · ${first.localName} · ${headline(operation, soapValue(operation, first))}`,
  );
  result.why = WHY.soapOk;
  return result;
}

// gRPC (through the playground's proxy) ------------------------------------------------------------

const GRPC_FIELDS = {
  listRooms: [],
  getRoom: ["roomId"],
  getReservation: ["reservationId"],
  listReservations: ["status", "roomId", "page", "pageSize"],
  createReservation: ["roomId", "guestName", "date", "startTime", "endTime", "attendees", "purpose"],
  modifyReservation: ["reservationId", "attendees", "purpose"],
  cancelReservation: ["reservationId", "reason"],
  checkInReservation: ["reservationId"],
};

function grpcValue(operation, response) {
  switch (operation) {
    case "listRooms":
      return response.rooms || [];
    case "getRoom":
      return response.room;
    case "listReservations":
      return { items: response.items || [], totalItems: Number(response.totalItems || 0) };
    default:
      return response.reservation;
  }
}

function prefixed(size) {
  return size + 5; // gRPC frames each message: 1-byte compressed flag + 4-byte length
}

async function runGrpc(operation, input, language) {
  const method = operation[0].toUpperCase() + operation.slice(1);
  const message = {};
  for (const name of GRPC_FIELDS[operation]) if (input[name] !== undefined) message[name] = input[name];
  const started = performance.now();
  const response = await fetch("/playground/grpc", {
    method: "POST",
    headers: requestHeaders({ "Content-Type": "application/json" }),
    body: JSON.stringify({ method, request: message, language, token: bearer() }),
  });
  const proxyMs = performance.now() - started;
  const call = await response.json();
  if (!response.ok) {
    return {
      outcome: "error",
      summary: `not sent · ${call.detail}`,
      request: `${method}Request as protobuf JSON (not encodable):\n${json(message)}`,
      response: json(call),
      metrics: `proxy round trip ${timing(proxyMs)}`,
    };
  }
  const request =
    `rpc ${call.method}\n` +
    `target ${call.target} (HTTP/2, the server's own gRPC port)\n` +
    `metadata\n` +
    Object.entries(call.metadata).map(([key, value]) => `  ${key}: ${value}\n`).join("") +
    `\n${method}Request as protobuf JSON:\n${json(call.request)}\n` +
    `\nas text format:\n${call.requestText || "(empty message)\n"}`;
  const status = call.status;
  const measured = {
    ms: proxyMs,
    bytesOut: prefixed(call.requestBytes),
    trips: "1 (+1 via the proxy)",
  };
  const metrics =
    `${timing(proxyMs)} from this browser through the proxy (the gRPC call itself, as the proxy measured it: ` +
    `${timing(call.elapsedMs)}) · ` +
    `request ${prefixed(call.requestBytes)} B (message ${call.requestBytes} B + 5) · `;
  if (status.code === "OK") {
    const int64 = /"(totalItems|attendees|sequence|after)":"\d+"/.test(JSON.stringify(call.response) + JSON.stringify(call.request));
    return {
      ...measured,
      statusShort: "OK",
      bytesIn: prefixed(call.responseBytes),
      why: int64 ? WHY.grpcInt64 : WHY.grpcOk,
      outcome: "ok",
      summary: `OK · ${headline(operation, grpcValue(operation, call.response))}`,
      request,
      response:
        `status OK (0)\n\n${method}Response as protobuf JSON:\n${json(call.response)}\n` +
        `\nas text format:\n${call.responseText}`,
      metrics: metrics + `response ${prefixed(call.responseBytes)} B (message ${call.responseBytes} B + 5)`,
    };
  }
  const info = call.details.find((detail) => (detail["@type"] || "").endsWith("google.rpc.ErrorInfo"));
  const trailers = { "grpc-status": String(status.number), "grpc-message": status.message, ...call.trailers };
  return {
    ...measured,
    statusShort: status.code,
    bytesIn: call.detailsBytes,
    why: injected(status.code) || WHY.grpcError(status.code, info ? info.reason : ""),
    outcome: "error",
    summary: `${status.code} · ErrorInfo.reason = ${info ? info.reason : "(none)"} — ${status.message}`,
    request,
    response:
      `status ${status.code} (${status.number})\nno response message\n\ntrailers\n` +
      Object.entries(trailers).map(([key, value]) => `  ${key}: ${value}\n`).join("") +
      `\ngrpc-status-details-bin decoded (google.rpc.Status details):\n${json(call.details)}`,
    metrics: metrics + `response: no message, status details ${call.detailsBytes} B`,
  };
}

// WebSocket -------------------------------------------------------------------------------------------

function wsPayload(operation, input) {
  if (operation === "modifyReservation") {
    const { reservationId, ...changes } = input;
    return { reservationId, changes };
  }
  return input;
}

function frameBytes(payloadBytes, masked) {
  const extended = payloadBytes > 65535 ? 8 : payloadBytes > 125 ? 2 : 0;
  return 2 + extended + (masked ? 4 : 0) + payloadBytes;
}

function waitFor(ws, setup, seconds = 10) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`no answer within ${seconds} s`));
    }, seconds * 1000);
    const settle = (outcome) => (value) => {
      clearTimeout(timer);
      outcome(value);
    };
    ws.onerror = () => settle(reject)(new Error("the WebSocket connection failed"));
    ws.onclose = (event) => settle(reject)(new Error(`the connection closed (code ${event.code} ${event.reason})`));
    setup(settle(resolve));
  });
}

async function runWebSocket(operation, input, language) {
  const path = `/ws?lang=${encodeURIComponent(language)}`;
  const frame = JSON.stringify({ id: 1, type: operation, payload: wsPayload(operation, input) });
  const opening = performance.now();
  const ws = new WebSocket(socketUrl(path), "rosetta.v1");
  await waitFor(ws, (resolve) => (ws.onopen = resolve));
  // Browsers cannot set headers on the handshake: the credential goes in a first frame.
  const authenticate = bearer()
    ? JSON.stringify({ id: 0, type: "authenticate", payload: { token: bearer() } })
    : null;
  if (authenticate) {
    await waitFor(ws, (resolve) => {
      ws.onmessage = (event) => {
        if (JSON.parse(event.data).id === 0) resolve(event.data);
      };
      ws.send(authenticate);
    });
  }
  const connectMs = performance.now() - opening;
  const started = performance.now();
  const answer = await waitFor(ws, (resolve) => {
    ws.onmessage = (event) => {
      if (JSON.parse(event.data).id === 1) resolve(event.data);
    };
    ws.send(frame);
  });
  const ms = performance.now() - started;
  ws.onclose = null;
  ws.close(1000);
  const reply = JSON.parse(answer);
  const sent = byteLength(frame);
  const received = byteLength(answer);
  const request =
    `# handshake (once per connection)\nGET ${path} HTTP/1.1\nUpgrade: websocket\n` +
    `Sec-WebSocket-Protocol: rosetta.v1   → accepted: ${ws.protocol}\n\n` +
    (authenticate ? `→ text frame (once per connection)\n${showBody(authenticate, "json")}\n\n` : "") +
    `→ text frame\n${showBody(frame, "json")}`;
  const response = `← ${reply.type} frame\n${showBody(answer, "json")}`;
  const metrics =
    `${timing(ms)} (on the open connection; connecting took ${timing(connectMs)}) · ` +
    `request frame ${frameBytes(sent, true)} B (payload ${sent} B) · ` +
    `response frame ${frameBytes(received, false)} B (payload ${received} B)`;
  const measured = {
    ms,
    bytesOut: frameBytes(sent, true),
    bytesIn: frameBytes(received, false),
    trips: "1 (+1 handshake)",
  };
  if (reply.type === "result") {
    let value = reply.payload;
    if (operation === "listRooms") value = value.items;
    return {
      ...measured,
      statusShort: "result",
      why: WHY.websocketOk,
      outcome: "ok",
      summary: `result frame · ${headline(operation, value)}`,
      request,
      response,
      metrics,
    };
  }
  const error = reply.payload || {};
  return {
    ...measured,
    statusShort: `error ${error.code}`,
    why: injected(error.code) || WHY.websocketError,
    outcome: "error",
    summary: `error frame · code ${error.code} — ${error.message}`,
    request,
    response,
    metrics,
  };
}

// Webhooks ---------------------------------------------------------------------------------------------

async function renderWebhooks(operation, cursor) {
  const panel = panelOf("webhooks");
  if (!OPERATIONS[operation].change) {
    render("webhooks", {
      outcome: "none",
      summary: `No webhook: ${operation} only reads, so no event and no message`,
      request: "(none)",
      response:
        "Webhooks are sent for changes only: reservation.created, reservation.modified,\n" +
        "reservation.canceled and reservation.checked_in. Try createReservation or cancelReservation.",
      metrics: "",
    });
    return;
  }
  const response = await fetch(`/playground/webhooks?after=${cursor}`, { cache: "no-store", headers: requestHeaders() });
  const data = await response.json();
  if (!response.ok) {
    render("webhooks", { outcome: "error", summary: data.detail, request: "", response: json(data), metrics: "" });
    return;
  }
  if (data.messages.length === 0) {
    render("webhooks", {
      outcome: "none",
      summary: "No webhook: no call changed anything, so no event was recorded",
      request: "(none)",
      response: "Every style answered an error; a failed change appends no event and sends no webhook.",
      metrics: "",
    });
    return;
  }
  const types = [...new Set(data.messages.map((message) => message.eventType))].join(", ");
  const request = data.messages
    .map((message, index) => {
      const url = new URL(message.url);
      const headers = Object.entries(message.headers).map(([name, value]) => `${name}: ${value}\n`).join("");
      return (
        `# message ${index + 1} of ${data.messages.length}: event ${message.sequence} (${message.eventType})\n` +
        `POST ${url.pathname} HTTP/1.1\nHost: ${url.host}\n${headers}\n${showBody(message.body, "json")}`
      );
    })
    .join("\n\n");
  const sizes = data.messages.map((message) => message.bodyBytes);
  render("webhooks", {
    statusShort: `${data.messages.length} message(s)`,
    bytesOut: sizes.reduce((a, b) => a + b, 0),
    bytesIn: "2xx",
    trips: `${data.messages.length} (server → you)`,
    why: WHY.webhooks,
    outcome: "ok",
    summary: `${data.messages.length} × ${types} (one message per change)`,
    request,
    response:
      `Signed with the EXAMPLE secret ${data.exampleSecret}\n(for display only: no subscription uses it; ` +
      `receiver.example is a placeholder).\n\n` +
      "A receiver checks webhook-signature: v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\"\n" +
      "keyed with the base64-decoded secret>, rejects old timestamps, dedups by webhook-id and answers 2xx;\n" +
      "anything else is retried with exponential backoff from the durable event log.",
    metrics: `body ${sizes.join(" B, ")} B · sent by the server's dispatcher to each subscription`,
  });
  panel.dataset.messages = String(data.messages.length);
}

// -- why the panels differ --------------------------------------------------------------------------

const WHY = {
  restOk:
    "REST puts the outcome in the HTTP status line (2xx) and the next steps in the answer (_links, actions), " +
    "so a client needs no other contract to continue — at the price of the largest JSON of the five.",
  restError: (status) =>
    `HTTP ${status}: REST's outcome is the status line itself — 4xx is the request's fault, 5xx the server's — ` +
    "with the details in an RFC 9457 problem (application/problem+json) that any proxy, cache or dashboard understands.",
  graphqlOk:
    "One endpoint, one POST: the query chooses the fields, so the answer holds exactly those. " +
    "The query text travels with every request (persisted queries would send an id instead).",
  graphqlError: (status) =>
    `GraphQL answered HTTP ${status} although the operation failed: the HTTP request succeeded, and the outcome ` +
    "travels in the body's errors[] (extensions.code). Proxies and dashboards that read the status count it as a success.",
  grpcOk:
    "A binary protobuf message over HTTP/2: field numbers instead of names and varints instead of digits, " +
    "hence the smallest sizes; the JSON and text views here are decoded by the proxy.",
  grpcInt64:
    "protobuf's JSON mapping prints int64 fields as strings (\"totalItems\": \"3\") because JavaScript numbers lose " +
    "precision above 2^53; on the wire they are plain varints.",
  grpcError: (code, reason) =>
    `${code}: gRPC has 17 status codes for every API, so the catalog maps several errors to one ` +
    "(CAPACITY_EXCEEDED, INVALID_STATE_TRANSITION and IDEMPOTENCY_KEY_REUSED all become FAILED_PRECONDITION: " +
    "the system's state forbids it, retrying will not help). The status travels in HTTP/2 trailers after an " +
    `HTTP 200; the exact catalog code is ErrorInfo.reason${reason ? " (" + reason + ")" : ""} in grpc-status-details-bin.`,
  soapOk:
    "Every element is named, namespaced and in the order the WSDL's xs:sequence fixes: the most self-describing " +
    "answer, and the largest and costliest to parse.",
  soapFault: (status, faultcode) =>
    `HTTP ${status}: SOAP 1.1 over HTTP answers 500 for every fault — its binding says so — even for the ` +
    `request's own mistake. The faultcode tells whose fault it was: ${faultcode.includes("Client") ? "Client.* (yours)" : "Server.* (the server's)"}.`,
  websocketOk:
    "After the handshake, each request is one small frame with no HTTP headers: the cheapest per call once " +
    "connected. The protocol on top ({id, type, payload}) is Rosetta's own, described in AsyncAPI.",
  websocketError:
    "One connection carries many requests at once, so there is no status line per answer: an error frame carries " +
    "the request's id and the catalog code instead.",
  webhooks:
    "The server calls you: one signed POST per change, retried until your receiver answers 2xx — so receivers " +
    "verify the signature and deduplicate by webhook-id (workshop lab 02).",
  injected: (code) =>
    code === "UNAVAILABLE"
      ? "The fault injector is on (see the banner): this UNAVAILABLE was injected before the call ran. It names " +
        "its wait (Retry-After, RetryInfo, retryAfter): a client retries the same request after it (workshop lab 06)."
      : "The fault injector is on (see the banner): this INTERNAL was injected. For a change, the answer may have " +
        "been dropped after the commit — the reservation can exist although the call failed (workshop lab 06).",
};

// -- the events tab: one change arriving in every push style ----------------------------------------------

const events = (() => {
  const lanes = {};
  let changeSentAt = null;
  let changeSequence = null;

  const row = (lane) => $(`#events-table tr[data-lane="${lane}"]`);
  const setState = (lane, text) => ($(".state", row(lane)).textContent = text);

  function arrived(lane, sequence, type) {
    const cells = row(lane);
    $(".event", cells).textContent = `#${sequence} ${type}`;
    if (changeSentAt !== null && (changeSequence === null || sequence >= changeSequence)) {
      $(".lag", cells).textContent = timing(performance.now() - changeSentAt);
      cells.dataset.arrived = "true";
    }
  }

  // EventSource cannot send a header, so the credential could not travel: the stream is read with fetch()
  // instead, which sends the same Authorization header as every other panel, and parsed as the
  // text/event-stream format says (WHATWG HTML §9.2.6): "field: value" lines, a blank line ends an event.
  // Like EventSource it reconnects after the server's `retry:` delay, resuming with Last-Event-ID.
  function openSse(lane, url) {
    const stop = new AbortController();
    let lastId = null;
    let retryMs = 2000;
    const handle = (type, data) => {
      const event = JSON.parse(data);
      arrived(lane, Number(event.sequence), event.type || type);
    };
    async function read() {
      const headers = requestHeaders({ Accept: "text/event-stream" });
      if (lastId !== null) headers["Last-Event-ID"] = lastId;
      const response = await fetch(url, { headers, cache: "no-store", signal: stop.signal });
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setState(lane, "open");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      let type = "";
      let data = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        const lines = buffer.split(/\r\n|\r|\n/);
        buffer = lines.pop(); // an incomplete last line waits for the next chunk
        for (const line of lines) {
          if (line === "") { // the event is complete
            if (data.length) handle(type, data.join("\n"));
            type = "";
            data = [];
            continue;
          }
          if (line.startsWith(":")) continue; // a comment (keep-alive)
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") data.push(text);
          else if (field === "event") type = text;
          else if (field === "id") lastId = text;
          else if (field === "retry" && /^\d+$/.test(text)) retryMs = Number(text);
        }
      }
    }
    (async () => {
      while (!stop.signal.aborted) {
        try {
          await read();
          setState(lane, "reconnecting");
        } catch (error) {
          if (stop.signal.aborted) return;
          setState(lane, `reconnecting (${error.message})`);
        }
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    })();
    return { close: () => stop.abort() };
  }

  function openGraphQL(after) {
    const ws = new WebSocket(socketUrl("/graphql"), "graphql-transport-ws");
    // The credential rides in connection_init's payload (browsers cannot set handshake headers).
    const init = bearer() ? { authorization: `Bearer ${bearer()}` } : {};
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: init }));
    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "connection_ack") {
        setState("graphql", "open");
        ws.send(JSON.stringify({
          id: "events",
          type: "subscribe",
          payload: {
            query: "subscription Events($after: Int!) { reservationEvents(after: $after) { sequence type } }",
            variables: { after },
          },
        }));
      } else if (frame.type === "next" && frame.payload.data) {
        const event = frame.payload.data.reservationEvents;
        arrived("graphql", Number(event.sequence), event.type);
      } else if (frame.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
      }
    };
    ws.onclose = () => setState("graphql", "closed");
    return { close: () => ws.close(1000) };
  }

  function openWebSocket(after) {
    const ws = new WebSocket(socketUrl("/ws"), "rosetta.v1");
    const subscribe = () => ws.send(JSON.stringify({ id: 1, type: "subscribe", payload: { after } }));
    ws.onopen = () => {
      setState("websocket", "open");
      // The credential first, in an authenticate frame; the subscribe waits for its answer.
      if (bearer()) ws.send(JSON.stringify({ id: 0, type: "authenticate", payload: { token: bearer() } }));
      else subscribe();
    };
    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.id === 0) subscribe();
      else if (frame.type === "event") arrived("websocket", Number(frame.payload.event.sequence), frame.payload.event.type);
    };
    ws.onclose = () => setState("websocket", "closed");
    return { close: () => ws.close(1000) };
  }

  function poll(lane, every, fetchAfter) {
    let cursor = null;
    let stopped = false;
    const tick = async () => {
      if (stopped) return;
      try {
        const found = await fetchAfter(cursor);
        setState(lane, `polling every ${every / 1000} s`);
        for (const [sequence, type] of found) {
          arrived(lane, sequence, type);
          cursor = sequence;
        }
      } catch (error) {
        setState(lane, `poll failed: ${error.message}`);
      }
      if (!stopped) setTimeout(tick, every);
    };
    return {
      start: (after) => {
        cursor = after;
        tick();
      },
      close: () => {
        stopped = true;
      },
    };
  }

  async function soapEventsAfter(after) {
    const envelope =
      `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP_ENV}" xmlns:r="${SOAP_NS}">` +
      `<soap:Body><r:GetEvents><r:after>${after}</r:after></r:GetEvents></soap:Body></soap:Envelope>`;
    const response = await fetch("/soap", {
      method: "POST",
      headers: requestHeaders({ "Content-Type": "text/xml; charset=utf-8", SOAPAction: '"GetEvents"' }),
      body: envelope,
    });
    const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
    return [...doc.getElementsByTagNameNS(SOAP_NS, "events")].map((event) => {
      const field = (name) => event.getElementsByTagNameNS(SOAP_NS, name)[0]?.textContent;
      return [Number(field("sequence")), field("type")];
    });
  }

  async function webhookMessagesAfter(after) {
    const response = await fetch(`/playground/webhooks?after=${after}`, { cache: "no-store", headers: requestHeaders() });
    const data = await response.json();
    return data.messages.map((message) => [Number(message.sequence), message.eventType]);
  }

  async function subscribe() {
    stop();
    const state = await refreshState();
    const after = state.lastSequence;
    changeSentAt = null;
    changeSequence = null;
    for (const tr of document.querySelectorAll("#events-table tbody tr")) {
      $(".event", tr).textContent = "—";
      $(".lag", tr).textContent = "—";
      delete tr.dataset.arrived;
      const lane = tr.dataset.lane;
      const served = lane === "grpc" ? Boolean(state.grpcTarget) : state.styles.includes(lane);
      setState(lane, served ? "opening…" : "not served by this process");
      if (!served) continue;
      if (lane === "rest") lanes.rest = openSse("rest", `/api/v1/events?after=${after}`);
      if (lane === "grpc") lanes.grpc = openSse("grpc", `/playground/grpc-events?after=${after}`);
      if (lane === "graphql") lanes.graphql = openGraphQL(after);
      if (lane === "websocket") lanes.websocket = openWebSocket(after);
      if (lane === "soap") (lanes.soap = poll("soap", 1000, soapEventsAfter)).start(after);
      if (lane === "webhooks") (lanes.webhooks = poll("webhooks", 1000, webhookMessagesAfter)).start(after);
    }
    $("#events-change").disabled = false;
    $("#events-stop").disabled = false;
    $("#events-status").textContent = `subscribed after event #${after}`;
  }

  async function change() {
    changeSequence = null;
    for (const tr of document.querySelectorAll("#events-table tbody tr")) {
      $(".lag", tr).textContent = "waiting…";
      delete tr.dataset.arrived;
    }
    changeSentAt = performance.now();
    let id = null;
    try {
      id = await createScratchReservation();
    } catch (error) {
      // With the fault injector on, the answer may be lost although the reservation was made: events still come.
      $("#events-status").textContent = `the change's answer failed (${error.message}); watch whether its event arrives`;
    }
    const state = await refreshState();
    changeSequence = state.lastSequence;
    if (id) $("#events-status").textContent = `created ${id}: event #${changeSequence}`;
  }

  function stop() {
    for (const [lane, handle] of Object.entries(lanes)) {
      handle.close();
      setState(lane, "closed");
      delete lanes[lane];
    }
    $("#events-change").disabled = true;
    $("#events-stop").disabled = true;
  }

  return { subscribe, change, stop };
})();

// -- running ---------------------------------------------------------------------------------------------

const RUNNERS = { rest: runRest, graphql: runGraphQL, grpc: runGrpc, soap: runSoap, websocket: runWebSocket };

async function refreshState() {
  const response = await fetch("/playground/state", { cache: "no-store", headers: requestHeaders() });
  serverState = await response.json();
  showFaults(serverState.faults);
  showSignIn();
  return serverState;
}

function faultsActive() {
  return Boolean(serverState.faults && serverState.faults.faults.length);
}

// An INTERNAL or UNAVAILABLE error while the fault injector is on was most likely injected: say so first.
function injected(code) {
  return (code === "INTERNAL" || code === "UNAVAILABLE") && faultsActive() ? WHY.injected(code) : "";
}

function showFaults(faults) {
  const banner = $("#faults-banner");
  if (!faults || !faults.faults.length) {
    banner.hidden = true;
    return;
  }
  const rules = faults.faults.map((rule) => {
    const parts = [];
    if (rule.latencyMs) parts.push(`+${rule.latencyMs} ms`);
    if (rule.fail) parts.push(`fail ${Math.round(rule.fail * 100)} %`);
    if (rule.unavailable) parts.push(`unavailable ${Math.round(rule.unavailable * 100)} %`);
    if (rule.drop) parts.push(`drop ${Math.round(rule.drop * 100)} % of answers after the commit`);
    if (rule.left !== null && rule.left !== undefined) parts.push(`${rule.left} left`);
    return `${rule.style}.${rule.operation}: ${parts.join(", ")}`;
  });
  const injectedSoFar = Object.entries(faults.injected).map(([key, count]) => `${key} ×${count}`).join(", ");
  banner.textContent =
    `Fault injector ON (workshop mode) — ${rules.join("; ")}` + (injectedSoFar ? ` · injected so far: ${injectedSoFar}` : "") +
    " · change it at /workshop/faults";
  banner.hidden = false;
}

function setRunning(style) {
  const panel = panelOf(style);
  panel.dataset.outcome = "running";
  $(".summary", panel).textContent = "running…";
  $(".request", panel).textContent = "";
  $(".response", panel).textContent = "";
  $(".metrics", panel).textContent = "";
  $(".why", panel).textContent = "";
  renderSummary(style, { outcome: "running", statusShort: "…" });
  for (const old of panel.querySelectorAll("details")) old.remove();
}

async function runEverywhere(event) {
  if (event) event.preventDefault();
  const button = $("#run");
  const statusLine = $("#status-line");
  const operation = $("#operation").value;
  const language = $("#language").value;
  const base = readInputs(operation);
  button.disabled = true;
  document.body.dataset.running = "true";
  for (const style of [...STYLES, "webhooks"]) setRunning(style);
  $("#setup-note").textContent = "";
  try {
    statusLine.textContent = "preparing…";
    const setup = await prepare(operation, base);
    if (setup) $("#setup-note").textContent = setup.note;
    const state = await refreshState();
    const cursor = state.lastSequence;
    let created = 0;
    for (const [index, style] of STYLES.entries()) {
      statusLine.textContent = `running ${STYLE_NAMES[style]}…`;
      if (!state.styles.includes(style) || (style === "grpc" && !state.grpcTarget)) {
        render(style, {
          outcome: "unavailable",
          summary: `${STYLE_NAMES[style]} is not served by this process`,
          request: "",
          response: "",
          metrics: "",
        });
        continue;
      }
      try {
        const result = await RUNNERS[style](operation, inputFor(operation, base, index, setup), language);
        render(style, result);
        if (result.outcome === "ok" && operation === "createReservation") created += 1;
      } catch (error) {
        render(style, { outcome: "error", summary: `the call failed: ${error.message}`, request: "", response: "", metrics: "" });
      }
    }
    statusLine.textContent = "webhooks…";
    if (state.styles.includes("webhooks")) {
      await renderWebhooks(operation, cursor);
    } else {
      render("webhooks", {
        outcome: "unavailable",
        summary: "Webhooks are not served by this process: no subscription, no dispatcher",
        request: "",
        response: "",
        metrics: "",
      });
    }
    if (created && $("#slotPerStyle").checked) {
      // Move on so that running the same create again books free slots instead of conflicting.
      $("#date").value = addDays($("#date").value.trim(), STYLES.length);
      $("#setup-note").textContent = `date moved on by ${STYLES.length} days for the next run (the slots just booked are taken).`;
    }
    statusLine.textContent = `done: ${operation} in every style (${language}).`;
  } catch (error) {
    statusLine.textContent = `stopped: ${error.message}`;
  } finally {
    button.disabled = false;
    document.body.dataset.running = "false";
    document.body.dataset.runs = String(Number(document.body.dataset.runs || 0) + 1);
  }
}

// A preset shows one error, then puts the inputs back: the next run is the learner's own again.
async function applyPreset(button) {
  const saved = { operation: $("#operation").value, roomId: $("#roomId").value, attendees: $("#attendees").value };
  $("#operation").value = button.dataset.operation;
  if (button.dataset.roomId) $("#roomId").value = button.dataset.roomId;
  if (button.dataset.attendees) $("#attendees").value = button.dataset.attendees;
  showFields();
  try {
    await runEverywhere();
  } finally {
    $("#operation").value = saved.operation;
    $("#roomId").value = saved.roomId;
    $("#attendees").value = saved.attendees;
    showFields();
  }
}

let defaults = {};

function reset() {
  for (const [id, value] of Object.entries(defaults)) {
    const element = $("#" + id);
    if (element.type === "checkbox") element.checked = value;
    else element.value = value;
  }
  $("#date").value = randomFutureDate(30, 700);
  autoFilledReservation = null;
  for (const style of [...STYLES, "webhooks"]) {
    render(style, { outcome: "idle", summary: "—", request: "", response: "", metrics: "" });
    renderSummary(style, { outcome: "idle", statusShort: "—" });
  }
  $("#setup-note").textContent = "";
  $("#status-line").textContent = "reset: default inputs, a new date";
  showFields();
}

function showTab(name) {
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(selected));
    $("#" + tab.getAttribute("aria-controls")).hidden = !selected;
  }
  document.body.dataset.tab = name;
}

function start() {
  for (const element of document.querySelectorAll("#form input, #form select")) {
    if (element.id) defaults[element.id] = element.type === "checkbox" ? element.checked : element.value;
  }
  $("#date").value = randomFutureDate(30, 700);
  $("#operation").addEventListener("change", showFields);
  $("#form").addEventListener("submit", runEverywhere);
  for (const button of document.querySelectorAll("button.preset")) {
    button.addEventListener("click", () => applyPreset(button));
  }
  $("#reset").addEventListener("click", reset);
  $("#sign-in").addEventListener("submit", signIn);
  $("#tab-operation").addEventListener("click", () => showTab("operation"));
  $("#tab-events").addEventListener("click", () => showTab("events"));
  $("#events-subscribe").addEventListener("click", () => events.subscribe());
  $("#events-change").addEventListener("click", () => events.change());
  $("#events-stop").addEventListener("click", () => events.stop());
  showFields();
  refreshState().catch(() => {});
  setInterval(() => refreshState().catch(() => {}), 5000); // the fault banner follows /workshop/faults
  document.body.dataset.ready = "true";
}

start();
