// mailjar web UI: the message pane (filled in by the message view; this first version shows the subject).
//
// Contract: showMessage(pane, base, id, {onClose}) renders message `id` of the inbox at `base` ("" or
// "/inboxes/{slug}") into `pane`; closeMessage(pane) empties it. Mail content is never put in the UI's own
// document as HTML.

export async function showMessage(pane, base, id, { onClose } = {}) {
  pane.replaceChildren();
  const response = await fetch(`${base}/api/v1/message/${encodeURIComponent(id)}`);
  const h = document.createElement("h2");
  h.className = "message-subject";
  if (!response.ok) {
    h.textContent = "Message not found";
  } else {
    const m = await response.json();
    h.textContent = m.Subject || "(no subject)";
  }
  const close = document.createElement("button");
  close.type = "button";
  close.textContent = "Close";
  close.addEventListener("click", () => onClose && onClose());
  pane.append(close, h);
}

export function closeMessage(pane) {
  pane.replaceChildren();
}
