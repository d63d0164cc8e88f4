// The live board: applies the server's Server-Sent Events to the page the server rendered.
//
// Safety rule: data from the server (caller names are attacker-controlled) only ever reaches the
// page as text nodes or attribute values (createTextNode / textContent / setAttribute), never as
// HTML.  The markup built here mirrors telephony/desktop/render.py; keep the two in step.

const body = document.body;
const messages = JSON.parse(document.getElementById("messages").textContent);
const tz = body.dataset.tz;
// server clock minus browser clock, so durations tick from the server's "now"
let skew = parseFloat(body.dataset.now) - Date.now() / 1000;

function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function label(group, value) {
  if (value === null || value === undefined) return "";
  return messages[`${group}.${value}`] ?? String(value);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// -- formatting (same forms as render.py) ---------------------------------------------------------

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const total = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

const timeParts = new Intl.DateTimeFormat("en-GB", {
  timeZone: tz, hourCycle: "h23", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit",
});

function parts(at) {
  const out = {};
  for (const part of timeParts.formatToParts(new Date(at * 1000))) out[part.type] = part.value;
  return out;
}

function clockTime(at) {
  const p = parts(at);
  return `${p.hour}:${p.minute}:${p.second}`;
}

function dayTime(at) {
  const p = parts(at);
  return `${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

const serverNow = () => Date.now() / 1000 + skew;

// -- pieces ---------------------------------------------------------------------------------------

function caller(number, name) {
  if (number == null && name == null) return el("span", { class: "caller unknown" }, t("unknown_caller"));
  return el("span", { class: "caller" },
    name && name !== number ? el("span", { class: "name" }, name) : null,
    number != null ? el("span", { class: "number" }, number) : null);
}

function ticking(since, now) {
  return el("span", { class: "dur", "data-since": since.toFixed(3) }, duration(now - since));
}

function empty(text) {
  return el("p", { class: "empty" }, text);
}

function fill(tbody, rows) {
  if (rows.length) {
    tbody.replaceChildren(...rows);
  } else {
    const columns = tbody.closest("table").querySelectorAll("thead th").length;
    tbody.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: columns }, tbody.dataset.empty)));
  }
}

// -- the board snapshot ---------------------------------------------------------------------------

function queue(q, now) {
  const summary = [el("span", { class: "count" }, t("waiting_count", { n: q.waiting.length }))];
  if (q.waiting.length) {
    summary.push(el("span", { class: "longest" }, t("longest_wait"), " ", ticking(now - q.longest_wait_s, now)));
  }
  const entries = q.waiting.map((w) => el("li", { "data-linkedid": w.linkedid },
    el("span", { class: "position" }, t("position", { n: w.position })), " ",
    caller(w.caller, w.caller_name), " ", ticking(now - w.waiting_s, now)));
  return el("article", { class: "queue", "data-queue": q.name },
    el("h3", null, q.name),
    el("p", { class: "summary" }, summary),
    entries.length ? el("ol", { class: "waiting" }, entries) : empty(t("nobody_waiting")));
}

function agentState(a, now) {
  const pause = a.reason ? t("paused_because", { reason: a.reason }) : label("agent", "paused");
  const out = [el("span", { class: `state state-${a.state}` }, a.state === "paused" ? pause : label("agent", a.state))];
  if (a.state === "paused" && a.paused_since !== null && a.paused_since !== undefined) {
    out.push(" ", ticking(a.paused_since, now));
  }
  if (a.ring !== null) out.push(" ", el("span", { class: "ring", "data-ring-agent": a.agent }, t("ring_n", { n: a.ring })));
  if (a.paused && a.state !== "paused") out.push(" ", el("span", { class: "reason" }, pause));
  if (a.paused && a.paused_in.join("\u0000") !== a.queues.join("\u0000")) {
    out.push(el("span", { class: "paused-in" }, t("paused_in", { queues: a.paused_in.join(t("list_separator")) })));
  }
  return out;
}

function agentRow(a, now) {
  return el("tr", { "data-agent": a.agent, class: `agent-${a.state}` },
    el("td", null, el("span", { class: "ext" }, a.agent), " ",
      el("span", { class: "agent-name" }, a.name !== `Agent ${a.agent}` ? a.name : null)),
    el("td", null, agentState(a, now)),
    el("td", null, a.queues.join(t("list_separator"))));
}

function callRow(c, now) {
  const state = [el("span", { class: `state call-${c.state}` }, label("call", c.state))];
  for (const offer of c.ringing) {
    state.push(" ", el("span", { class: "ring", "data-ring-agent": offer.agent }, `${offer.agent} ${t("ring_n", { n: offer.ring })}`));
  }
  return el("tr", { "data-linkedid": c.linkedid, class: `call-${c.state}` },
    el("td", null, caller(c.caller, c.caller_name),
      c.direction === "outbound" ? el("span", { class: "direction" }, t("direction.outbound")) : null),
    el("td", null, c.queue),
    el("td", null, state),
    el("td", null, c.agent),
    el("td", null, ticking(c.since, now)));
}

function applyBoard(board) {
  skew = board.at - Date.now() / 1000;
  const now = board.at;
  const queues = document.getElementById("queue-list");
  queues.replaceChildren(...(board.queues.length ? board.queues.map((q) => queue(q, now)) : [empty(t("no_queues"))]));
  fill(document.getElementById("agent-rows"), board.agents.map((a) => agentRow(a, now)));
  fill(document.getElementById("call-rows"), board.calls.map((c) => callRow(c, now)));
}

// -- live events ----------------------------------------------------------------------------------

// Put ``item`` into ``list`` before the first child that ``comesAfter`` it; keep ``limit`` children.
function insert(list, item, limit, comesAfter) {
  for (const placeholder of list.querySelectorAll(":scope > .empty")) placeholder.remove();
  const next = Array.from(list.children).find(comesAfter);
  list.insertBefore(item, next ?? null);
  while (list.children.length > limit) list.lastElementChild.remove();
}

function alertText(a) {
  const out = [label("alert", a.kind)];
  if (a.agent) out.push(t("agent_n", { agent: a.agent }));
  if (a.queue) out.push(t("queue_n", { queue: a.queue }));
  if (a.caller) out.push(a.caller);
  if (a.action) out.push(label("action", a.action));
  if (a.misses_today !== undefined && a.misses_today !== null) {
    out.push(t("missed_counts", { today: a.misses_today, shift: a.misses_this_shift ?? 0, consecutive: a.consecutive }));
  }
  return out.join(" · ");
}

function addAlert(a) {
  const list = document.getElementById("alert-list");
  const facts = JSON.stringify({ kind: a.kind, at: a.at, agent: a.agent, queue: a.queue, linkedid: a.linkedid });
  const item = el("li", { class: `alert alert-${a.kind} new`, title: a.detail, "data-alert": facts },
    el("time", null, clockTime(a.at)), " ", alertText(a));
  insert(list, item, Number(list.dataset.limit), () => true);
}

// Newest call first, by the time it came in (as the server orders them); a call shown already is replaced.
function addRecent(call) {
  const tbody = document.getElementById("recent-rows");
  for (const old of tbody.querySelectorAll(`tr[data-linkedid="${CSS.escape(call.linkedid)}"]`)) old.remove();
  const row = el("tr", { "data-linkedid": call.linkedid, "data-entered": call.entered_at.toFixed(3),
    class: `outcome-${call.outcome} new` },
    el("td", null, dayTime(call.entered_at)),
    el("td", null, caller(call.caller, call.caller_name)),
    el("td", null, call.queue),
    el("td", null, call.answered_by),
    el("td", null, call.rings_to_answer),
    el("td", null, duration(call.wait_s)),
    el("td", null, duration(call.talk_s)),
    el("td", null, el("span", { class: "outcome" }, label("outcome", call.outcome))));
  insert(tbody, row, Number(tbody.dataset.limit), (other) => parseFloat(other.dataset.entered) < call.entered_at);
}

function showRing(event) {
  const text = t("ring_n", { n: event.ring });
  const agent = CSS.escape(event.agent);
  for (const node of document.querySelectorAll(`#agent-rows [data-ring-agent="${agent}"]`)) node.textContent = text;
  const row = document.querySelector(`#call-rows tr[data-linkedid="${CSS.escape(event.linkedid)}"]`);
  for (const node of row ? row.querySelectorAll(`[data-ring-agent="${agent}"]`) : []) {
    node.textContent = `${event.agent} ${text}`;
  }
}

function setLink(up) {
  document.getElementById("link-down").hidden = up;
}

function setStatus(key) {
  const status = document.getElementById("status");
  status.textContent = t(key);
  status.dataset.state = key;
}

function tick() {
  const now = serverNow();
  for (const node of document.querySelectorAll(".dur[data-since]")) {
    node.textContent = duration(now - parseFloat(node.dataset.since));
  }
}

const data = (handler) => (message) => handler(JSON.parse(message.data));

// the public board streams masked events; the supervisor's page names its own stream
export const source = new EventSource(body.dataset.stream || "/events");
source.addEventListener("open", () => setStatus("live"));
source.addEventListener("error", () => setStatus("reconnecting"));
source.addEventListener("board", data(applyBoard));
source.addEventListener("alert", data(addAlert));
source.addEventListener("call_ended", data((event) => addRecent(event.call)));
source.addEventListener("agent_ringing", data(showRing));
source.addEventListener("pbx_link", data((event) => setLink(event.state !== "disconnected")));
source.addEventListener("resynced", () => setLink(true));
setInterval(tick, 1000);
