// The supervisor's board: the live board (board.js, on the unmasked stream the page names) plus
// actions on an agent: pause, unpause, listen, whisper, barge (ChanSpy to the supervisor's phone).

import { source } from "./board.js";
import { getJSON, post } from "./api.js";

const messages = JSON.parse(document.getElementById("messages").textContent);
const form = document.getElementById("agent-actions");
const out = form.querySelector(".result");


function act(path, data) {
  const agent = form.elements.agent.value.trim();
  if (!agent) return;
  post(`/api/v1/agents/${encodeURIComponent(agent)}/${path}`, data)
    .then(() => { out.textContent = messages["screen.sent"]; })
    .catch((error) => { out.textContent = messages["screen.error"].replace("{error}", error.message); });
}

for (const button of form.querySelectorAll("[data-presence]")) {
  button.addEventListener("click", () => act("presence", { state: button.dataset.presence, reason: form.elements.reason.value }));
}
for (const button of form.querySelectorAll("[data-spy]")) {
  button.addEventListener("click", () => act("spy", { mode: button.dataset.spy }));
}

// -- acknowledging guard alerts: a button on every alert line, also on those that arrive live ---------

function ackButton(line) {
  if (line.querySelector("button.ack") || !line.dataset.alert) return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "ack";
  button.textContent = messages["screen.acknowledge"];
  button.addEventListener("click", () => {
    post("/api/v1/alerts/ack", JSON.parse(line.dataset.alert))
      .then(() => line.classList.add("acknowledged"))
      .catch((error) => { button.title = error.message; })
      .finally(() => button.remove());
  });
  line.append(" ", button);
}

const alertList = document.getElementById("alert-list");
alertList.querySelectorAll("li[data-alert]").forEach(ackButton);
new MutationObserver(() => alertList.querySelectorAll("li[data-alert]").forEach(ackButton))
  .observe(alertList, { childList: true });

// -- announcements and FAQ entries ------------------------------------------------------------------------

const announcement = document.getElementById("announcement-form");
announcement.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const result = announcement.querySelector(".result");
  post("/api/v1/announcements", Object.fromEntries(new FormData(announcement)))
    .then(() => { result.textContent = messages["screen.sent"]; announcement.reset(); })
    .catch((error) => { result.textContent = messages["screen.error"].replace("{error}", error.message); });
});

// -- each queue's day: service level, misses, abandons (from the call log, every 30 s) -----------------

async function loadToday() {
  const answer = await getJSON("/api/v1/queues/today");
  if (!answer) return;
  const { queues } = answer;
  const rows = queues.map((q) => {
    const tr = document.createElement("tr");
    const level = q.service_level === null ? "—" : `${Math.round(q.service_level * 100)}% (${q.answered_in_time}/${q.calls})`;
    const abandoned = q.abandoned_mean_wait_s === null ? String(q.abandoned) : `${q.abandoned} (${q.abandoned_mean_wait_s} s)`;
    for (const text of [q.queue, String(q.calls), level, String(q.misses), abandoned]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  document.getElementById("today-rows").replaceChildren(...rows);
}

loadToday();
setInterval(loadToday, 30000);
// a call that ends changes the day's figures: read them again once the call log has it (1 s later)
source.addEventListener("call_ended", () => setTimeout(loadToday, 1000));

// -- report downloads: the links follow the chosen day (the week is that day's ISO week) ----------------

function isoWeek(day) {
  const date = new Date(Date.UTC(day.getFullYear(), day.getMonth(), day.getDate()));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const yearStart = new Date(Date.UTC(date.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((date - yearStart) / 86400000 + 1) / 7);
  return `${date.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

const reportDay = document.querySelector("#report-form input[name=day]");
function updateReportLinks() {
  const value = reportDay.value;
  for (const link of document.querySelectorAll("#report-form a[data-report]")) {
    if (!value) { link.removeAttribute("href"); continue; }
    const [year, month, day] = value.split("-").map(Number);
    const period = link.dataset.report === "daily" ? value : isoWeek(new Date(year, month - 1, day));
    link.href = `/api/v1/reports/${link.dataset.report}/${period}.${link.dataset.ext}`;
  }
}
reportDay.valueAsDate = new Date();
reportDay.addEventListener("change", updateReportLinks);
updateReportLinks();
