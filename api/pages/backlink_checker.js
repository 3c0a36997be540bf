// The backlink checker page: one check per click. The table and the CSV download both come
// from the one JSON answer, so every URL is fetched once and the download is the result on
// screen. Written for a strict Content-Security-Policy: a same-origin file, no inline
// handlers or styles, the download a blob: URL.
"use strict";

const ENDPOINT = "/api/v1/public/check-backlinks";

// --- CSV, byte for byte as the API writes it (api/csv_export.py, api/checker.py) ----------

// OWASP: a spreadsheet runs a cell that begins with one of these as a formula
const FORMULA_START = /^[=+\-@\t\r]/;

function csvText(key, value) {
  if (key === "redirectChain") value = value.map((h) => `${h.httpStatus} ${h.url}`).join(" | ");
  else if (key === "error") value = value ? value.code : null;
  let text;
  if (value === null || value === undefined) text = "";
  else if (typeof value === "boolean") text = value ? "true" : "false";
  else if (Array.isArray(value)) text = value.map(String).join(" ");
  else text = String(value);
  return FORMULA_START.test(text) ? "'" + text : text;
}

// RFC 4180 as Python's csv.writer does it: quote a field holding a comma, a quote, CR or LF
function csvField(text) {
  return /[",\r\n]/.test(text) ? '"' + text.replaceAll('"', '""') + '"' : text;
}

function csvDocument(results) {
  // API.md: the header is the result's field names, in the order the JSON answer has them
  const columns = Object.keys(results[0]);
  const lines = [columns, ...results.map((r) => columns.map((c) => csvText(c, r[c])))];
  return lines.map((cells) => cells.map(csvField).join(",") + "\r\n").join("");
}

// --- the page ---------------------------------------------------------------------------

function start() {
  const form = document.getElementById("check-form");
  const message = document.getElementById("message");
  const submit = document.getElementById("submit");
  const csvLink = document.getElementById("csv");
  let csvUrl = null;

  function say(text, isError) {
    message.textContent = text;
    message.className = isError ? "error" : "";
  }

  function body() {
    const urls = document.getElementById("urls").value.split(/\s+/).filter(Boolean);
    return JSON.stringify({domain: document.getElementById("domain").value.trim(), urls});
  }

  async function check() {
    const res = await fetch(ENDPOINT, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: body(),
    });
    if (!res.ok) {
      let text = `The check failed (HTTP ${res.status}).`;
      try {
        const err = await res.json();
        text = err.error.details + (err.error.field ? ` (${err.error.field})` : "");
      } catch (_) { /* not an envelope */ }
      throw new Error(text);
    }
    return res.json();
  }

  // Every value comes from pages on the web: only ever set textContent, never HTML.
  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    if (className) td.className = className;
    row.appendChild(td);
  }

  function yesNo(row, value) {
    cell(row, value ? "yes" : "no", value ? "yes" : "no");
  }

  function render(report) {
    const labels = {alive: "Alive", dead: "Dead", withLink: "With link", dofollow: "Dofollow",
                    indexable: "Indexable", redirected: "Redirected"};
    const summary = document.getElementById("summary");
    summary.replaceChildren();
    for (const [key, label] of Object.entries(labels)) {
      const box = document.createElement("div");
      box.dataset.key = key;
      const value = document.createElement("b");
      value.textContent = report.summary[key];
      box.append(value, label);
      summary.appendChild(box);
    }
    const tbody = document.querySelector("#results tbody");
    tbody.replaceChildren();
    for (const r of report.results) {
      const row = document.createElement("tr");
      cell(row, r.url, "url");
      cell(row, r.httpStatus);
      cell(row, r.redirectChain.map((h) => `${h.httpStatus} ${h.url}`).join(" → ") || "none", "url");
      yesNo(row, r.hasLink);
      cell(row, r.linkType);
      cell(row, r.anchorText);
      cell(row, r.canonicalUrl, "url");
      cell(row, r.robotsDirectives.join(", ") || "none");
      yesNo(row, r.indexable);
      cell(row, r.error ? r.error.code : null);
      tbody.appendChild(row);
    }
    document.getElementById("report").hidden = false;
  }

  function offerCsv(report) {
    if (csvUrl) URL.revokeObjectURL(csvUrl);
    const blob = new Blob([csvDocument(report.results)], {type: "text/csv;charset=utf-8"});
    csvUrl = URL.createObjectURL(blob);
    csvLink.href = csvUrl;
    csvLink.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    csvLink.hidden = true;
    say("Checking…", false);
    try {
      const report = await check();
      render(report);
      offerCsv(report);
      say(`Checked ${report.checked} page${report.checked === 1 ? "" : "s"} for ${report.domain}.`,
          false);
    } catch (err) {
      say(err.message, true);
    } finally {
      submit.disabled = false;
    }
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
