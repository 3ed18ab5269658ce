// LangFlix upload page: pick or drop the files, see the upload's progress, read refusals next to their field.
//
// The page talks to an *uploader*: an object with
//   start(parts, onProgress) -> Promise<{status, body}>   parts: [name, string | File] in send order;
//                                                          onProgress(fraction 0..1) while bytes go out
//   abort()                                                stop now (start's promise rejects with "aborted")
// MultipartUploader sends one multipart POST /api/v1/jobs. A resumable uploader (tus, to
// /api/v1/uploads) keeps the same two methods: it uploads each File in resumable pieces, then
// posts the job naming the uploads; chooseUploader() is the one place that picks.
"use strict";

class MultipartUploader {
  constructor(endpoint, csrfToken) {
    this.endpoint = endpoint;
    this.csrfToken = csrfToken;
    this.xhr = null;
  }

  start(parts, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open("POST", this.endpoint);
      xhr.setRequestHeader("X-CSRF-Token", this.csrfToken);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
      });
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        resolve({ status: xhr.status, body });
      });
      xhr.addEventListener("error", () => reject(new Error("network")));
      xhr.addEventListener("abort", () => reject(new Error("aborted")));
      const form = new FormData();
      for (const [name, value] of parts) form.append(name, value);
      xhr.send(form);
    });
  }

  abort() {
    if (this.xhr) this.xhr.abort();
  }
}

function chooseUploader(config, csrfToken) {
  return new MultipartUploader(config.endpoint, csrfToken);
}

(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const config = JSON.parse(document.getElementById("upload-config").textContent);
  const sentences = JSON.parse(document.getElementById("langflix-sentences").textContent);
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const progress = document.getElementById("upload-progress");
  const percent = document.getElementById("upload-percent");
  const startButton = document.getElementById("start-button");
  const abortButton = document.getElementById("abort-button");
  const done = document.getElementById("upload-done");
  const jobLink = document.getElementById("job-link");
  const VIDEO_SUFFIXES = [".mkv", ".mp4", ".m4v", ".mov", ".webm", ".avi", ".ts"];
  let uploader = null;

  const input = (name) => form.elements.namedItem(name);
  const errorSlot = (name) => document.getElementById(`error-${name}`) || document.getElementById("error-form");

  function clearErrors() {
    for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  }

  function showError(field, text) {
    // textContent, never innerHTML: a file name the server repeats back is shown as text.
    const slot = errorSlot(field);
    slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : text;
  }

  function sentence(status) {
    return sentences[String(status)] || `The server answered ${status}.`;
  }

  function setProgress(fraction) {
    const value = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    progress.value = value;
    percent.textContent = `${value}%`;
  }

  function suffix(name) {
    const dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot).toLowerCase();
  }

  function largestFileField() {
    let best = "form";
    let size = -1;
    for (const name of config.fileFields) {
      const file = input(name).files[0];
      if (file && file.size > size) { best = name; size = file.size; }
    }
    return best;
  }

  // Which field a refusal is about: the field the server named, else the one its words start with.
  function fieldOf(status, detail) {
    const receiving = /while receiving '([a-z_]+)'/.exec(detail);
    if (receiving && config.fields.includes(receiving[1])) return receiving[1];
    for (const name of config.fields) {
      if (detail.startsWith(`${name} `) || detail.startsWith(`${name}:`)) return name;
    }
    if (status === 413) return largestFileField();
    return "form";
  }

  function showRefusal(status, body) {
    const lead = sentence(status);
    if (body && Array.isArray(body.detail)) {
      for (const problem of body.detail) {
        const loc = problem.loc || [];
        const name = loc[loc.length - 1];
        showError(config.fields.includes(name) ? name : "form", `${lead} ${problem.msg}`);
      }
      return;
    }
    const detail = body && typeof body.detail === "string" ? body.detail : "";
    showError(fieldOf(status, detail), detail ? `${lead} ${detail}` : lead);
  }

  // What the browser can tell before a byte is sent: the same sentences as the server's refusals.
  function checkLocally() {
    let ok = true;
    let total = 0;
    for (const name of config.fields) {
      const element = input(name);
      if (element.type === "file") {
        const file = element.files[0];
        if (!file && element.required) { showError(name, "Choose a file."); ok = false; }
        if (file) total += file.size;
      } else if (!element.checkValidity()) {
        showError(name, `${sentence(422)} ${element.validationMessage}`);
        ok = false;
      }
    }
    if (total > config.maxUploadBytes) {
      showError(largestFileField(), `${sentence(413)} The files are ${total} bytes; the limit is ${config.maxUploadBytes} (LANGFLIX_MAX_UPLOAD_BYTES).`);
      ok = false;
    }
    return ok;
  }

  // Small fields first, the video last: a refusal of a field or of the subtitles comes before the big part.
  function parts() {
    const list = [];
    for (const name of config.fields) {
      const element = input(name);
      if (element.type !== "file" && element.value.trim() !== "") list.push([name, element.value.trim()]);
    }
    const files = config.fileFields.filter((name) => input(name).files[0]);
    files.sort((a, b) => (a === "video") - (b === "video"));
    for (const name of files) list.push([name, input(name).files[0]]);
    return list;
  }

  function busy(on) {
    startButton.disabled = on;
    abortButton.hidden = !on;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    done.hidden = true;
    if (!checkLocally()) return;
    setProgress(0);
    busy(true);
    uploader = chooseUploader(config, csrfToken);
    try {
      const answer = await uploader.start(parts(), setProgress);
      if (answer.status === 202 && answer.body && answer.body.job_id) {
        setProgress(1);
        jobLink.href = `${config.jobPage}${encodeURIComponent(answer.body.job_id)}`;
        done.hidden = false;
        form.dataset.jobId = answer.body.job_id;
      } else {
        showRefusal(answer.status, answer.body);
      }
    } catch (error) {
      showError("form", error.message === "aborted" ? "The upload was stopped; nothing was kept."
        : "The connection to the server was lost during the upload; check the server and try again.");
    } finally {
      busy(false);
      uploader = null;
    }
  });

  abortButton.addEventListener("click", () => { if (uploader) uploader.abort(); });

  // Dropped files go to the field they fit: a video to "video", subtitles to the subtitle fields in order.
  function place(files) {
    const subtitleFields = config.fileFields.filter((name) => name !== "video");
    const given = {};
    for (const file of files) {
      const isVideo = file.type.startsWith("video/") || VIDEO_SUFFIXES.includes(suffix(file.name));
      const name = isVideo ? "video" : subtitleFields.find((field) => !given[field]);
      if (!name || given[name]) continue;
      given[name] = file;
    }
    for (const [name, file] of Object.entries(given)) {
      const transfer = new DataTransfer();
      transfer.items.add(file);
      input(name).files = transfer.files;
    }
  }

  const zone = document.getElementById("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    place(Array.from(event.dataTransfer.files));
  });
})();
