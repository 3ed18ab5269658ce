// LangFlix dashboard: what every page needs on top of htmx. No inline script anywhere (the CSP forbids it).
"use strict";

(function () {
  const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // The sentence each status means, before the server's own words: the server's one table (PLAIN_SENTENCES).
  const SENTENCES = JSON.parse(document.getElementById("langflix-sentences")?.textContent || "{}");

  function detailText(body) {
    if (!body) return "";
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
    return "";
  }

  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  // Every htmx request carries the session's CSRF token (changes sent with the cookie need it).
  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // A refused request: a plain sentence next to the button that sent it, as text (never HTML).
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    const scope = event.detail.elt.closest("[data-error-scope]");
    const target = scope ? scope.querySelector("[data-errors]") : null;
    if (!target) return;
    const sentence = SENTENCES[xhr.status] || `The server answered ${xhr.status}.`;
    const detail = detailText(parseJson(xhr.responseText));
    target.textContent = detail ? `${sentence} ${detail}` : sentence;
  });

  // Deleting from a job's own page: back to the list once it is gone.
  document.addEventListener("htmx:afterRequest", (event) => {
    const next = event.detail.elt.dataset ? event.detail.elt.dataset.afterDelete : undefined;
    if (next && event.detail.successful) window.location.assign(next);
  });

  // A job that appeared after the page was drawn comes as "job-new"; a reconnecting stream may say it twice.
  document.addEventListener("htmx:sseBeforeMessage", (event) => {
    const message = event.detail;
    if (message.type !== "job-new") return;
    const match = /data-job="([0-9a-f]+)"/.exec(message.data || "");
    if (match && document.getElementById(`job-${match[1]}`)) {
      event.preventDefault();
      return;
    }
    document.getElementById("no-jobs")?.remove();
  });

  // A job page drawn before its job completed reloads once to show the lessons and downloads.
  document.addEventListener("htmx:sseMessage", () => {
    const live = document.getElementById("job-live");
    const block = document.getElementById("job-status-block");
    if (!live || !block) return;
    if (block.dataset.status === "completed" && live.dataset.renderedStatus !== "completed") {
      live.dataset.renderedStatus = "completed";
      window.location.reload();
    }
  });
})();
