// Shows each organisation's chat state on the page, from the loader's
// window event `chathub:statechange` (detail: { org, state, previous,
// error }). Not needed for the chat itself. textContent only.

const $ = (id) => document.getElementById(id);

addEventListener("chathub:statechange", (e) => {
  const { org, state, previous, error } = e.detail;
  const key = org ?? "default";
  const out = $(`state-${key}`);
  if (!out) return;
  out.textContent = state;
  out.dataset.state = state;
  // refreshing → ready: the widget got a new token.
  const refreshes = $(`refreshes-${key}`);
  if (refreshes && previous == "refreshing" && state == "ready") refreshes.textContent = String(Number(refreshes.textContent) + 1);
  const err = $(`error-${key}`);
  if (err && (error || state == "ready")) err.textContent = error ? error.code : "none";
});
