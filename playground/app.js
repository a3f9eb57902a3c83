// The Pair API playground: plain JavaScript, no build step. Served by the local stack at
// PAIR_API_URL/playground/, or opened from disk against a deployed API (give its URL).
"use strict";

const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(["succeeded", "failed", "expired"]);
const POLL_MS = 1000;
const state = { templateId: null, templatePreview: null };

// #api=...&token=... pre-fills the form; on the local stack the API is this page's origin.
function readSettings() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const servedByApi = location.protocol.startsWith("http") && location.pathname.startsWith("/playground");
  $("api-url").value = hash.get("api") || (servedByApi ? location.origin : "");
  $("token").value = hash.get("token") || "";
}

async function api(method, path, body) {
  const headers = {};
  const token = $("token").value.trim();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch($("api-url").value.replace(/\/$/, "") + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = answer.error || { code: `HTTP_${response.status}`, message: answer.message || response.statusText };
    throw new Error(`${error.code}: ${error.message}`);
  }
  return answer;
}

function showStatus(status, message = "") {
  $("status").textContent = status;
  $("status").dataset.status = status;
  $("message").textContent = message;
}

async function loadTemplates() {
  const gallery = $("templates");
  gallery.replaceChildren();
  try {
    for (const entry of await api("GET", "/templates")) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.templateId = entry.template_id;
      button.title = `${entry.template_id} (${entry.width}x${entry.height})`;
      button.setAttribute("aria-pressed", "false");
      const img = document.createElement("img");
      img.src = entry.preview_url;
      img.alt = entry.template_id;
      button.append(img);
      button.addEventListener("click", () => pickTemplate(entry, button));
      gallery.append(button);
    }
    showStatus("idle", gallery.children.length ? "" : "the catalogue is empty: upload a template");
  } catch (error) {
    showStatus("error", error.message);
  }
  updateMergeButton();
}

function pickTemplate(entry, button) {
  for (const other of $("templates").children) other.setAttribute("aria-pressed", "false");
  button.setAttribute("aria-pressed", "true");
  $("own-template").value = "";
  state.templateId = entry.template_id;
  state.templatePreview = entry.preview_url;
  $("template-preview").src = entry.preview_url;
  updateMergeButton();
}

function updateMergeButton() {
  const hasTemplate = state.templateId !== null || $("own-template").files.length > 0;
  $("merge").disabled = !(hasTemplate && $("target").files.length > 0);
}

// A presigned POST: its fields first, then Content-Type (the policy wants image/*), file last.
async function upload(presigned, file) {
  const form = new FormData();
  for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
  form.append("Content-Type", file.type || "image/jpeg");
  form.append("file", file);
  const response = await fetch(presigned.url, { method: "POST", body: form });
  if (!response.ok) throw new Error(`UPLOAD_REFUSED: the store answered ${response.status}`);
}

async function merge() {
  $("merge").disabled = true;
  $("result").removeAttribute("src");
  $("download").hidden = true;
  try {
    const request = { source_similarity: Number($("similarity").value) };
    if (state.templateId !== null) request.template_id = state.templateId;
    const pair = await api("POST", "/pairs", request);
    showStatus("uploading", pair.pair_id);
    await upload(pair.uploads.target, $("target").files[0]);
    if (pair.uploads.template) await upload(pair.uploads.template, $("own-template").files[0]);
    await watch(pair.pair_id);
  } catch (error) {
    showStatus("error", error.message);
  } finally {
    updateMergeButton();
  }
}

async function watch(pairId) {
  for (;;) {
    const described = await api("GET", `/pairs/${pairId}`);
    showStatus(described.status, pairId);
    if (TERMINAL.has(described.status)) {
      if (described.status === "succeeded") {
        $("result").src = described.result_url;
        $("download").href = described.result_url;
        $("download").hidden = false;
      } else {
        const error = described.error || {};
        showStatus(described.status, `${error.code}: ${error.message}`);
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function preview(input, img) {
  if (input.files.length) img.src = URL.createObjectURL(input.files[0]);
}

readSettings();
$("connection").addEventListener("submit", (event) => { event.preventDefault(); loadTemplates(); });
$("target").addEventListener("change", () => { preview($("target"), $("target-preview")); updateMergeButton(); });
$("own-template").addEventListener("change", () => {
  state.templateId = null;
  for (const other of $("templates").children) other.setAttribute("aria-pressed", "false");
  preview($("own-template"), $("template-preview"));
  updateMergeButton();
});
$("similarity").addEventListener("input", () => { $("similarity-value").textContent = $("similarity").value; });
$("merge").addEventListener("click", merge);
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  $("target").files = event.dataTransfer.files;
  $("target").dispatchEvent(new Event("change"));
});
if ($("api-url").value) loadTemplates();
