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

let serverState = { styles: [...STYLES, "webhooks"], lastSequence: 0, credential: null };

// With authentication on, the server hands the page a token of its `demo` client (in /playground/state);
// every style carries it its own way, and the wire views show it.
function bearer() {
  return serverState.credential ? serverState.credential.token : null;
}

function credentialHeaders() {
  return bearer() ? { Authorization: `Bearer ${bearer()}` } : {};
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
      headers: { "content-type": "application/json", accept: "application/json", ...credentialHeaders() },
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

function render(style, result) {
  const panel = panelOf(style);
  panel.dataset.outcome = result.outcome;
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
  headers = { ...headers, ...credentialHeaders() };
  const shown = { Host: location.host, ...headers };
  if (body !== undefined) shown["Content-Length"] = String(byteLength(body));
  const head =
    `${method} ${path} HTTP/1.1${CRLF}` +
    Object.entries(shown).map(([name, value]) => `${name}: ${value}${CRLF}`).join("") +
    CRLF;
  const started = performance.now();
  const response = await fetch(path, { method, headers, body, cache: "no-store" });
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
    return httpResult(wire, "ok", `${wire.statusLine} · ${headline(operation, restValue(operation, body))}`);
  }
  const problem = body && body.code ? `${body.code} — ${body.detail}` : wire.text.slice(0, 120);
  return httpResult(wire, "error", `${wire.statusLine} · ${problem}`);
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
    return result;
  }
  let value = payload.data && payload.data[spec.field];
  if (operation === "listReservations" && value) value = { items: value.items, totalItems: value.totalItems };
  result.outcome = "ok";
  result.summary = `HTTP ${wire.statusLine} · data.${spec.field} · ${headline(operation, value)}`;
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
    return httpResult(wire, "error", `HTTP ${wire.statusLine} · faultcode ${text("faultcode")} — ${text("faultstring")}`);
  }
  return httpResult(
    wire,
    "ok",
    `HTTP ${wire.statusLine} · ${first.localName} · ${headline(operation, soapValue(operation, first))}`,
  );
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
    headers: { "Content-Type": "application/json" },
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
  const metrics =
    `${timing(call.elapsedMs)} (the call; proxy round trip ${timing(proxyMs)}) · ` +
    `request ${prefixed(call.requestBytes)} B (message ${call.requestBytes} B + 5) · `;
  if (status.code === "OK") {
    return {
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
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const path = `/ws?lang=${encodeURIComponent(language)}`;
  const frame = JSON.stringify({ id: 1, type: operation, payload: wsPayload(operation, input) });
  const opening = performance.now();
  const ws = new WebSocket(`${scheme}//${location.host}${path}`, "rosetta.v1");
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
  if (reply.type === "result") {
    let value = reply.payload;
    if (operation === "listRooms") value = value.items;
    return { outcome: "ok", summary: `result frame · ${headline(operation, value)}`, request, response, metrics };
  }
  const error = reply.payload || {};
  return {
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
  const response = await fetch(`/playground/webhooks?after=${cursor}`, { cache: "no-store" });
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

// -- running ---------------------------------------------------------------------------------------------

const RUNNERS = { rest: runRest, graphql: runGraphQL, grpc: runGrpc, soap: runSoap, websocket: runWebSocket };

async function refreshState() {
  const response = await fetch("/playground/state", { cache: "no-store" });
  serverState = await response.json();
  return serverState;
}

function setRunning(style) {
  const panel = panelOf(style);
  panel.dataset.outcome = "running";
  $(".summary", panel).textContent = "running…";
  $(".request", panel).textContent = "";
  $(".response", panel).textContent = "";
  $(".metrics", panel).textContent = "";
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

function applyPreset(button) {
  $("#operation").value = button.dataset.operation;
  if (button.dataset.roomId) $("#roomId").value = button.dataset.roomId;
  if (button.dataset.attendees) $("#attendees").value = button.dataset.attendees;
  showFields();
  runEverywhere();
}

function start() {
  $("#date").value = randomFutureDate(30, 700);
  $("#operation").addEventListener("change", showFields);
  $("#form").addEventListener("submit", runEverywhere);
  for (const button of document.querySelectorAll("button.preset")) {
    button.addEventListener("click", () => applyPreset(button));
  }
  showFields();
  refreshState().catch(() => {});
  document.body.dataset.ready = "true";
}

start();
