// The agent's desk: the pop while the phone rings, the customer card, wrap-up, presence, his items.
//
// Safety rule (as in board.js): what comes from the server — caller names and numbers are
// attacker-controlled — reaches the page only as text (textContent, value, setAttribute), never
// as HTML.

import { getJSON, post } from "./api.js";

const body = document.body;
const messages = JSON.parse(document.getElementById("messages").textContent);
const ext = body.dataset.ext;
const $ = (id) => document.getElementById(id);

function t(key, values = {}) {
  const text = messages[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function item(text, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  li.textContent = text;
  return li;
}

function fill(list, rows, emptyText) {
  list.replaceChildren(...(rows.length ? rows : [item(emptyText, "empty")]));
}

function localTime(iso) {
  return iso ? new Date(iso).toLocaleString(body.dataset.lang, { timeZone: body.dataset.tz, hour12: false }) : "";
}

function result(form, text, failed = false) {
  const out = form.querySelector(".result");
  out.textContent = text;
  out.classList.toggle("failed", failed);
}

// -- the call on screen ------------------------------------------------------------------------------

let current = null; // {pbx, linkedid, caller, offer_id, answered}

function showRing(n) {
  $("pop-ring").textContent = t("screen.ring_count", { n });
  $("ring-warning").hidden = !(n >= 2 && current && !current.answered);
}

function showPop(pop) {
  current = { pbx: pop.pbx, linkedid: pop.linkedid, caller: pop.caller, offer_id: pop.offer_id, answered: false };
  $("pop-idle").hidden = true;
  $("pop-card").hidden = false;
  $("pop-ended").hidden = true;
  $("apologise").hidden = true;
  $("pop-number").textContent = pop.caller || "";
  $("pop-name").textContent = pop.caller_name || "";
  $("pop-queue").textContent = pop.queue || "";
  showRing(pop.ring);
  const form = $("customer-form");
  const customer = pop.customer;
  $("new-customer").hidden = customer !== null || !pop.caller;
  $("history-unavailable").hidden = !pop.history_unavailable;
  for (const name of ["name", "company", "notes", "category"]) {
    // a card without a name yet takes the name the call shows, ready to be saved
    form.elements[name].value = (customer && customer[name]) || (name === "name" ? pop.caller_name || "" : "");
  }
  result(form, "");
  fill($("history-list"), pop.history.map((h) => item(
    [localTime(h.entered_at), messages[`outcome.${h.outcome}`] || h.outcome, h.answered_by, h.problem_type, h.order_no,
      h.summary]
      .filter((part) => part).join(" · "))), t("screen.no_history"));
  fill($("callback-list"), pop.callbacks.map((c) => item([localTime(c.due_at), c.text].filter(Boolean).join(" · "))),
    t("screen.none"));
  fill($("message-list"), pop.messages.map((m) => item(m.text || "")), t("screen.none"));
  const note = $("transfer-note");
  note.hidden = !pop.transfer_note;
  note.textContent = pop.transfer_note
    ? t("screen.transferred_from", { from: pop.transfer_note.from, note: pop.transfer_note.note || "" }) : "";
  const wrapup = $("wrapup-form");
  wrapup.reset();
  result(wrapup, "");
  $("transfer-form").hidden = true;
  $("recording").hidden = true;
  $("recording-audio").hidden = true;
}

function data(handler) {
  return (message) => handler(JSON.parse(message.data));
}

function sameOffer(event) {
  return current && event.linkedid === current.linkedid;
}

const source = new EventSource(`/api/v1/agents/${encodeURIComponent(ext)}/events`);
source.addEventListener("open", () => { $("status").textContent = messages.live; });
source.addEventListener("error", () => { $("status").textContent = messages.reconnecting; });
source.addEventListener("pop", data(showPop));
source.addEventListener("ring", data((event) => { if (sameOffer(event)) showRing(event.ring); }));
source.addEventListener("answered", data((event) => {
  if (!sameOffer(event)) return;
  current.answered = true;
  $("ring-warning").hidden = true;
  $("apologise").hidden = !event.apologise;
  $("transfer-form").hidden = false;
  showRecordingButtons(false);
  $("recording").hidden = false;
}));
source.addEventListener("ended", data((event) => {
  if (!sameOffer(event)) return;
  $("ring-warning").hidden = true;
  const ended = $("pop-ended");
  ended.textContent = t("screen.ended", { outcome: messages[`outcome.${event.outcome}`] || event.outcome });
  ended.hidden = false;
  $("transfer-form").hidden = true;
  $("recording").hidden = true;
  loadTasks();
  if (current.answered) showRecording(current);
}));
source.addEventListener("presence", data(showPresence));

// -- presence -------------------------------------------------------------------------------------------

const GUARD_REASON = "振铃未接";

function showPresence(p) {
  $("presence-state").textContent = p.paused ? t("screen.paused_now", { reason: p.reason || "" }) : t("screen.ready");
  $("guard-paused").hidden = !(p.paused && p.reason === GUARD_REASON);
}

for (const button of document.querySelectorAll("[data-presence]")) {
  button.addEventListener("click", async () => {
    try {
      await post(`/api/v1/agents/${encodeURIComponent(ext)}/presence`,
        { state: button.dataset.presence, reason: $("pause-reason").value });
    } catch (error) {
      $("presence-state").textContent = t("screen.error", { error: error.message });
    }
  });
}

// -- the customer card and the wrap-up -------------------------------------------------------------------

$("customer-form").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const form = submitted.target;
  if (!current || !current.caller) return;
  const fields = Object.fromEntries(new FormData(form));
  try {
    await post(`/api/v1/customers/${encodeURIComponent(current.caller)}`, fields);
    $("new-customer").hidden = true;
    result(form, t("screen.saved"));
  } catch (error) {
    result(form, t("screen.error", { error: error.message }), true);
  }
});

$("wrapup-form").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const form = submitted.target;
  if (!current) return;
  const fields = Object.fromEntries(new FormData(form));
  // the browser's local time, sent with its offset so the server never guesses a zone
  fields.follow_up_due = fields.follow_up_due ? new Date(fields.follow_up_due).toISOString() : "";
  if (!fields.category) delete fields.category;
  try {
    await post(`/api/v1/calls/${encodeURIComponent(current.pbx)}/${encodeURIComponent(current.linkedid)}/wrapup`, fields);
    result(form, t("screen.saved"));
    loadTasks();
  } catch (error) {
    result(form, t("screen.error", { error: error.message }), true);
  }
});

// -- his open items ----------------------------------------------------------------------------------------

async function loadTasks() {
  const answer = await getJSON(`/api/v1/agents/${encodeURIComponent(ext)}/tasks`);
  if (!answer) return;
  const { tasks } = answer;
  fill($("task-list"), tasks.map((task) => {
    const li = item([localTime(task.due_at), task.customer, task.text].filter(Boolean).join(" · "));
    const done = document.createElement("button");
    done.type = "button";
    done.textContent = t("screen.done");
    done.addEventListener("click", async () => {
      await post(`/api/v1/tasks/${task.id}/done`, {}).catch(() => {});
      loadTasks();
    });
    li.append(" ", done);
    return li;
  }), t("screen.none"));
}

// -- the call's recording: paused while the customer reads out card numbers; played back afterwards ------

function showRecordingButtons(paused) {
  document.querySelector("[data-recording=pause]").hidden = paused;
  document.querySelector("[data-recording=resume]").hidden = !paused;
}

for (const button of document.querySelectorAll("[data-recording]")) {
  button.addEventListener("click", async () => {
    const paused = button.dataset.recording === "pause";
    const out = $("recording").querySelector(".result");
    try {
      await post(`/api/v1/calls/${encodeURIComponent(current.pbx)}/${encodeURIComponent(current.linkedid)}/recording`,
        { paused });
      showRecordingButtons(paused);
      out.textContent = "";
    } catch (error) {
      out.textContent = t("screen.error", { error: error.message });
    }
  });
}

async function showRecording(call) {
  // the call log writes the recording's end a moment after the call ends
  setTimeout(async () => {
    const answer = await getJSON(`/api/v1/calls/${encodeURIComponent(call.pbx)}/${encodeURIComponent(call.linkedid)}/recordings`);
    // a recording whose size is unknown is on the PBX's host, out of this daemon's reach: no player
    const playable = answer && answer.recordings.find((r) => r.state === "done" && r.size_bytes !== null);
    if (!playable || current !== call) return;
    const audio = $("recording-audio");
    audio.src = `/api/v1/recordings/${playable.id}`;
    audio.hidden = false;
  }, 1500);
}

// -- transfer, handover ----------------------------------------------------------------------------------

function sendForm(id, path, prepare = (fields) => fields, after = () => {}) {
  $(id).addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    const form = submitted.target;
    const target = path();
    if (!target) return;
    try {
      await post(target, prepare(Object.fromEntries(new FormData(form))));
      result(form, t("screen.sent"));
      after(form);
    } catch (error) {
      result(form, t("screen.error", { error: error.message }), true);
    }
  });
}

sendForm("transfer-form",
  () => current && `/api/v1/calls/${encodeURIComponent(current.pbx)}/${encodeURIComponent(current.linkedid)}/transfer`,
  (fields) => ({ ...fields, caller_agreed: fields.caller_agreed === "true" }), () => loadTasks());
sendForm("handover-form", () => `/api/v1/agents/${encodeURIComponent(ext)}/handover`, (fields) => fields,
  (form) => { form.reset(); loadTasks(); });

// -- announcements, handovers to acknowledge, the FAQ ------------------------------------------------------

function ackItem(text, path, reload) {
  const li = item(text);
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = t("screen.read");
  button.addEventListener("click", async () => { await post(path, {}).catch(() => {}); reload(); });
  li.append(" ", button);
  return li;
}

async function loadAnnouncements() {
  const answer = await getJSON("/api/v1/announcements");
  if (!answer) return;
  fill($("announcement-list"), answer.announcements.filter((a) => !a.read).map(
    (a) => ackItem(`${a.title}：${a.body}`, `/api/v1/announcements/${a.id}/ack`, loadAnnouncements)), t("screen.none"));
}

async function loadHandovers() {
  const answer = await getJSON(`/api/v1/agents/${encodeURIComponent(ext)}/handovers`);
  if (!answer) return;
  fill($("handover-list"), answer.handovers.map((h) => ackItem(t("screen.handover_line", {
    from: h.from, note: h.note || "", calls: h.summary.day.calls_answered, aht: h.summary.day.avg_handle_s ?? "—",
    asa: h.summary.day.avg_speed_of_answer_s ?? "—", misses: h.summary.day.misses, items: h.summary.items.length,
  }), `/api/v1/handovers/${h.id}/ack`, () => { loadHandovers(); loadTasks(); })), t("screen.none"));
}

let faqTimer = null;
$("faq-search").addEventListener("input", (typed) => {
  clearTimeout(faqTimer);
  faqTimer = setTimeout(async () => {
    const answer = await getJSON(`/api/v1/faq?q=${encodeURIComponent(typed.target.value)}`);
    if (answer) fill($("faq-list"), answer.faq.map((f) => item(`${f.title}：${f.body}`)), t("screen.none"));
  }, 250);
});

loadTasks();
loadAnnouncements();
loadHandovers();
