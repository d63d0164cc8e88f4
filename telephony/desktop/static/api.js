// Talking to /api/v1 from a signed-in page: JSON in and out, the session's CSRF token on every POST
// (the page carries it as data-csrf), the server's own reason on a refusal.

const csrf = document.body.dataset.csrf;

export async function post(path, data) {
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

export async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  return response.ok ? response.json() : null;
}
