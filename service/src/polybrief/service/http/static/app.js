// The editors' page: briefs streamed from POST /v1/briefs:stream (Server-Sent Events over
// fetch, so the request can carry a JSON body and an Authorization header). No libraries.
"use strict";

const $ = (id) => document.getElementById(id);
const names = new Map(); // language code -> name, from /v1/capabilities
let running = null; // AbortController of the brief in flight

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function languageLabel(code) {
  return names.has(code) ? `${names.get(code)} (${code})` : code;
}

function describeStatus(status) {
  // A google.rpc.Status as sentences, with BadRequest fields and RetryInfo spelt out.
  const lines = [status.message || "the request failed"];
  for (const detail of status.details || []) {
    for (const v of detail.fieldViolations || []) lines.push(`${v.field || "request"}: ${v.description}`);
    for (const v of detail.violations || []) if (v.description) lines.push(v.description);
    if (detail.retryDelay) lines.push(`Try again in ${detail.retryDelay}.`);
  }
  return lines;
}

function showProblem(lines) {
  const box = $("problem");
  box.replaceChildren();
  const list = document.createElement("ul");
  for (const line of lines) {
    const item = document.createElement("li");
    item.textContent = line;
    list.append(item);
  }
  box.append(list);
  box.hidden = false;
}

async function loadCapabilities() {
  const status = $("languages-status");
  let answer;
  try {
    answer = await fetch("/v1/capabilities", { headers: headers(false) });
  } catch (error) {
    status.textContent = "The server cannot be reached: " + error;
    return;
  }
  if (!answer.ok) {
    const problem = await answer.json().catch(() => ({ message: answer.statusText }));
    status.textContent = answer.status === 401
      ? "This server needs an API key: enter it under Access, then reload the languages."
      : "Languages unavailable: " + problem.message;
    if (answer.status === 401) $("api-key").addEventListener("change", loadCapabilities, { once: true });
    return;
  }
  const caps = await answer.json();
  const list = $("language-list");
  list.replaceChildren();
  const source = $("source");
  source.replaceChildren(new Option("Detect", ""));
  for (const lang of caps.languages || []) {
    names.set(lang.code, lang.name);
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.name = "language";
    box.value = lang.code;
    label.append(box, ` ${lang.name} (${lang.code})`);
    list.append(label);
    if (lang.translateSource || lang.summarizeAbstractive) source.append(new Option(lang.name, lang.code));
  }
  const max = caps.limits && caps.limits.maxTargetLanguages;
  status.textContent = `Pick up to ${max || 8}; none: one brief in the article's language.`;
}

function readFile(file) {
  const name = file.name.toLowerCase();
  const format = /\.(html?|xhtml)$/.test(name) || file.type === "text/html" ? "text/html"
    : /\.(md|markdown)$/.test(name) || file.type === "text/markdown" ? "text/markdown" : "text/plain";
  file.text().then((text) => {
    $("article").value = text;
    $("format").value = format;
    $("status").textContent = `Loaded ${file.name} (${text.length} characters, ${format}).`;
  });
}

function addTerm(source = "", target = "") {
  const row = document.createElement("tr");
  const count = $("glossary-rows").children.length + 1;
  for (const [value, what] of [[source, "Term"], [target, "Write it as"]]) {
    const cell = document.createElement("td");
    const input = document.createElement("input");
    input.type = "text";
    input.value = value;
    input.setAttribute("aria-label", `${what}, row ${count}`);
    cell.append(input);
    row.append(cell);
  }
  const cell = document.createElement("td");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove term ${count}`);
  remove.addEventListener("click", () => { row.remove(); $("add-term").focus(); });
  cell.append(remove);
  row.append(cell);
  $("glossary-rows").append(row);
  row.querySelector("input").focus();
}

function request() {
  const body = {
    text: $("article").value,
    targetLanguages: [...document.querySelectorAll("#language-list input:checked")].map((b) => b.value),
    mimeType: $("format").value,
  };
  if ($("source").value) body.sourceLanguage = $("source").value;
  if ($("words").value) body.maxWords = Number($("words").value);
  const glossary = [...$("glossary-rows").children]
    .map((row) => [...row.querySelectorAll("input")].map((i) => i.value))
    .filter(([source]) => source.trim() !== "")
    .map(([source, target]) => ({ source, target }));
  if (glossary.length) body.glossary = glossary;
  if ($("ignore-case").checked) body.glossaryIgnoreCase = true;
  return body;
}

function describeRoute(route) {
  const kind = (route.kind || "").replace("ROUTE_KIND_", "").toLowerCase().replace("_", "-");
  const steps = (route.steps || []).map((s) => {
    const what = (s.kind || "").replace("STEP_KIND_", "").toLowerCase();
    const pair = s.sourceLanguage === s.targetLanguage || !s.targetLanguage
      ? s.sourceLanguage : `${s.sourceLanguage}→${s.targetLanguage}`;
    return `${what} with ${s.model || "no model"} (${pair})`;
  });
  const pivot = route.pivotLanguage ? ` via ${route.pivotLanguage}` : "";
  return `Route: ${kind || "unknown"}${pivot}${steps.length ? " — " + steps.join(", then ") : ""}`;
}

function renderBrief(index, brief, language) {
  const item = $("brief-template").content.firstElementChild.cloneNode(true);
  item.dataset.index = index;
  item.dataset.language = brief.language || language;
  item.querySelector(".brief-title").textContent = languageLabel(brief.language || language);
  const confidence = item.querySelector(".confidence");
  const percent = (brief.confidence || 0) * 100;
  const shown = percent >= 10 ? percent.toFixed(0) : percent >= 1 ? percent.toFixed(1) : percent.toFixed(2);
  confidence.textContent = brief.error && brief.error.code ? "no brief" : `confidence ${shown}%`;
  confidence.classList.add(percent < 20 ? "low" : percent >= 60 ? "high" : "mid");
  item.querySelector(".brief-text").textContent = brief.text;
  if (brief.error && brief.error.code) {
    const e = brief.error;
    item.querySelector(".brief-error").textContent =
      `${e.code}: ${e.message}${e.hint ? " — " + e.hint : ""}`;
  }
  const warnings = item.querySelector(".warnings");
  if (brief.mode === "SUMMARY_MODE_EXTRACTIVE") {
    const li = document.createElement("li");
    li.textContent = "Extractive: sentences of the article" + (brief.fallbackReason ? ` (${brief.fallbackReason})` : "");
    warnings.append(li);
  }
  for (const w of brief.warnings || []) {
    const li = document.createElement("li");
    li.className = "warning";
    li.dataset.code = w.code;
    li.textContent = `${w.code.replaceAll("_", " ").toLowerCase()}: ${w.message}`
      + (w.segment >= 0 ? ` (sentence ${w.segment + 1})` : "");
    warnings.append(li);
  }
  if (brief.route) item.querySelector(".route").textContent = describeRoute(brief.route);
  const copy = item.querySelector(".copy");
  copy.setAttribute("aria-label", `Copy the ${languageLabel(brief.language || language)} brief`);
  copy.disabled = !brief.text;
  copy.addEventListener("click", () => copyText(brief.text, copy));
  $("briefs").append(item);
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

function* events(buffer) {
  // Complete Server-Sent Events at the front of buffer.text (the rest stays for later).
  let end;
  while ((end = buffer.text.indexOf("\n\n")) >= 0) {
    const block = buffer.text.slice(0, end);
    buffer.text = buffer.text.slice(end + 2);
    const event = { event: "message", data: "" };
    for (const line of block.split("\n")) {
      if (line.startsWith("event:")) event.event = line.slice(6).trim();
      else if (line.startsWith("data:")) event.data += line.slice(5).trim();
    }
    if (event.data) yield event;
  }
}

async function brief(submit) {
  submit.preventDefault();
  if (!$("article").value.trim()) {
    showProblem(["Paste or drop an article first."]);
    $("article").focus();
    return;
  }
  const body = request();
  const wanted = body.targetLanguages.length ? body.targetLanguages : ["(article's language)"];
  const pending = new Set(wanted);
  $("briefs").replaceChildren();
  $("problem").hidden = true;
  $("summary-line").textContent = "";
  const started = performance.now();
  running = new AbortController();
  $("go").disabled = true;
  $("stop").disabled = false;
  const say = () => {
    $("status").textContent = pending.size
      ? `Briefing… waiting for ${[...pending].map(languageLabel).join(", ")}`
      : "All briefs are in.";
  };
  say();
  try {
    const answer = await fetch("/v1/briefs:stream", {
      method: "POST", headers: headers(true), body: JSON.stringify(body), signal: running.signal,
    });
    if (!answer.ok) {
      const status = await answer.json().catch(() => ({ message: answer.statusText }));
      const retry = answer.headers.get("Retry-After");
      showProblem([`${answer.status}: `+ describeStatus(status)[0], ...describeStatus(status).slice(1),
        ...(retry ? [`The server asks to retry after ${retry} s.`] : [])]);
      $("status").textContent = "The server refused the request.";
      return;
    }
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    const buffer = { text: "" };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer.text += value.replaceAll("\r\n", "\n");
      for (const event of events(buffer)) {
        const data = JSON.parse(event.data);
        if (event.event === "brief") {
          const { index = 0, brief: b } = data.brief;
          const language = body.targetLanguages[index] || b.language;
          pending.delete(body.targetLanguages.length ? language : wanted[0]);
          renderBrief(index, b, language);
          say();
        } else if (event.event === "done") {
          const d = data.done;
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          const detected = d.detectedLanguage && d.detectedLanguage.language
            ? `, detected ${languageLabel(d.detectedLanguage.language)} (${Math.round(d.detectedLanguage.confidence * 100)}%)` : "";
          $("summary-line").textContent =
            `Source: ${languageLabel(d.sourceLanguage)}${detected}; ${d.pipeline ? d.pipeline.sentences : "?"} sentences; ${seconds} s.`;
        } else if (event.event === "error") {
          showProblem(describeStatus(data));
        }
      }
    }
    say();
  } catch (error) {
    if (error.name === "AbortError") $("status").textContent = "Stopped: the server dropped the remaining work.";
    else showProblem(["The request failed: " + error.message]);
  } finally {
    running = null;
    $("go").disabled = false;
    $("stop").disabled = true;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const article = $("article");
  article.addEventListener("dragover", (e) => { e.preventDefault(); article.classList.add("dragging"); });
  article.addEventListener("dragleave", () => article.classList.remove("dragging"));
  article.addEventListener("drop", (e) => {
    article.classList.remove("dragging");
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) { e.preventDefault(); readFile(file); }
  });
  $("file").addEventListener("change", (e) => { if (e.target.files[0]) readFile(e.target.files[0]); });
  $("add-term").addEventListener("click", () => addTerm());
  $("brief-form").addEventListener("submit", brief);
  $("stop").addEventListener("click", () => running && running.abort());
  loadCapabilities();
});
