// The supervisor's board: the live board (board.js, on the unmasked stream the page names) plus
// actions on an agent: pause, unpause, listen, whisper, barge (ChanSpy to the supervisor's phone).

import "./board.js";

const csrf = document.body.dataset.csrf;
const messages = JSON.parse(document.getElementById("messages").textContent);
const form = document.getElementById("agent-actions");
const out = form.querySelector(".result");

async function post(path, data) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrf-token": csrf },
    body: JSON.stringify(data),
    credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

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
