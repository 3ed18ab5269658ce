// LangFlix upload page: pick or drop the files, see the upload's progress, read refusals next to their field.
//
// The page talks to an *uploader*: an object with
//   start(parts, onProgress) -> Promise<{status, body}>   parts: [name, string | File] in send order;
//                                                          onProgress(fraction 0..1) while bytes go out
//   abort()                                                stop now (start's promise rejects with "aborted")
// MultipartUploader sends one multipart POST /api/v1/jobs. TusUploader (tus 1.0, to
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

// TusUploader: each File goes to /api/v1/uploads over tus 1.0 in chunks of config.chunkBytes; a chunk
// that fails (the connection drops, the server restarts) is resumed from the offset the server
// reports (HEAD), after a growing pause, up to RETRY_DELAYS.length times in a row. Then one JSON
// POST /api/v1/jobs names the uploads. A refused job (or a stopped upload) deletes its uploads.
const RETRY_DELAYS = [500, 1000, 2000, 4000, 8000, 8000, 8000];

class TusUploader {
  constructor(config, csrfToken, onResume) {
    this.endpoint = config.endpoint;
    this.uploadsEndpoint = config.uploadsEndpoint;
    this.chunkBytes = config.chunkBytes;
    this.csrfToken = csrfToken;
    this.onResume = onResume || (() => {});
    this.xhr = null;
    this.aborted = false;
    this.made = [];
  }

  request(method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      if (this.aborted) { reject(new Error("aborted")); return; }
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("X-CSRF-Token", this.csrfToken);
      xhr.setRequestHeader("Accept", "application/json");
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      if (onProgress) xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
      xhr.addEventListener("load", () => {
        let parsed = null;
        try { parsed = JSON.parse(xhr.responseText); } catch (e) { parsed = null; }
        resolve({ status: xhr.status, body: parsed, header: (name) => xhr.getResponseHeader(name) });
      });
      xhr.addEventListener("error", () => reject(new Error("network")));
      xhr.addEventListener("abort", () => reject(new Error("aborted")));
      xhr.send(body === undefined ? null : body);
    });
  }

  static metadata(file) {
    const bytes = new TextEncoder().encode(file.name);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return `filename ${btoa(binary)}`;
  }

  static transient(status) {
    // Worth another try from the server's offset: a damaged chunk, a lost race, a server restarting.
    return status === 409 || status === 460 || status === 408 || status === 502 || status === 503 || status === 504;
  }

  pause(ms) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      this.cancelPause = () => { clearTimeout(timer); reject(new Error("aborted")); };
    });
  }

  // Sends one file; resolves with its upload id, or with a refusal {status, body} to show.
  async send(file, onBytes) {
    const created = await this.request("POST", this.uploadsEndpoint, {
      "Upload-Length": String(file.size),
      "Upload-Metadata": TusUploader.metadata(file),
    });
    if (created.status !== 201) return { refusal: created };
    const url = created.header("Location");
    this.made.push(url);
    let offset = 0;
    let failures = 0;
    while (offset < file.size) {
      const end = Math.min(file.size, offset + this.chunkBytes);
      let answer = null;
      try {
        answer = await this.request("PATCH", url, {
          "Upload-Offset": String(offset),
          "Content-Type": "application/offset+octet-stream",
        }, file.slice(offset, end), (loaded) => onBytes(offset + loaded));
      } catch (error) {
        if (error.message === "aborted") throw error;
      }
      if (answer && answer.status === 204) {
        offset = Number(answer.header("Upload-Offset"));
        onBytes(offset);
        failures = 0;
        continue;
      }
      if (answer && !TusUploader.transient(answer.status)) return { refusal: answer };
      if (failures >= RETRY_DELAYS.length) throw new Error("network");
      await this.pause(RETRY_DELAYS[failures]);
      failures += 1;
      try {
        const head = await this.request("HEAD", url, {});
        if (head.status !== 200) return { refusal: head };
        offset = Number(head.header("Upload-Offset"));
        this.onResume(offset, file);
      } catch (error) {
        if (error.message === "aborted") throw error;
      }
    }
    return { id: url.slice(url.lastIndexOf("/") + 1) };
  }

  async forget() {
    const made = this.made;
    this.made = [];
    this.aborted = false;
    for (const url of made) {
      try { await this.request("DELETE", url, {}); } catch (error) { /* expires on the server anyway */ }
    }
  }

  async start(parts, onProgress) {
    const files = parts.filter(([, value]) => value instanceof File);
    const job = {};
    for (const [name, value] of parts) if (!(value instanceof File)) job[name] = value;
    const total = files.reduce((sum, [, file]) => sum + file.size, 0) || 1;
    let before = 0;
    try {
      for (const [name, file] of files) {
        const sent = await this.send(file, (bytes) => onProgress((before + bytes) / total));
        if (sent.refusal) {
          await this.forget();
          return { status: sent.refusal.status, body: sent.refusal.body };
        }
        job[`${name}_upload`] = sent.id;
        before += file.size;
      }
      const answer = await this.request("POST", this.endpoint, { "Content-Type": "application/json" },
        JSON.stringify(job));
      if (answer.status === 202) this.made = [];
      else await this.forget();
      return { status: answer.status, body: answer.body };
    } catch (error) {
      await this.forget();
      throw error;
    }
  }

  abort() {
    this.aborted = true;
    if (this.cancelPause) this.cancelPause();
    if (this.xhr) this.xhr.abort();
  }
}

function chooseUploader(config, csrfToken, onResume) {
  if (config.uploadsEndpoint && window.Blob && window.TextEncoder) return new TusUploader(config, csrfToken, onResume);
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
  const note = document.getElementById("upload-note");
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
    form.dataset.resumes = "0";
    note.textContent = "";
    uploader = chooseUploader(config, csrfToken, (offset, file) => {
      // Told, not hidden: the connection dropped and the upload goes on from what the server holds.
      form.dataset.resumes = String(Number(form.dataset.resumes) + 1);
      note.textContent = `The connection dropped; ${file.name} went on from the ${offset} bytes the server holds.`;
    });
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
