// The pages' little progressive JavaScript (api/templates/): every page works without
// it. Loaded with `defer` from this origin (the CSP allows no inline script).
"use strict";

// <form data-confirm="Archive this site?">: ask before a destructive action
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement && form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// [data-check-all="NAME"] / [data-check-none="NAME"]: tick or untick every checkbox
// named NAME in the same form (hidden without JS: the page sends them `hidden`)
function boxesOf(button) {
  const name = button.dataset.checkAll || button.dataset.checkNone;
  return Array.from(button.form.querySelectorAll(`input[type=checkbox][name="${name}"]`));
}

function updateCounts(form) {
  // <output data-count-of="NAME">: how many boxes named NAME are ticked; with
  // data-fresh-only, only those marked data-fresh (a job's cost: the directories the
  // site was not yet submitted to)
  form.querySelectorAll("output[data-count-of]").forEach((out) => {
    const name = out.dataset.countOf;
    const only = "freshOnly" in out.dataset ? "[data-fresh]" : "";
    const n = form.querySelectorAll(`input[type=checkbox][name="${name}"]${only}:checked`).length;
    out.value = String(n);
  });
}

document.querySelectorAll("[data-check-all], [data-check-none]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => {
    const on = "checkAll" in button.dataset;
    boxesOf(button).forEach((box) => { box.checked = on; });
    updateCounts(button.form);
  });
});

document.querySelectorAll("form").forEach((form) => {
  if (form.querySelector("output[data-count-of]")) {
    form.addEventListener("change", () => updateCounts(form));
    updateCounts(form);
  }
});

// <select data-review-on-change>: choosing another value submits the form's review
// button (the server recounts what the choice changes); without JS, press it yourself
document.querySelectorAll("select[data-review-on-change]").forEach((select) => {
  select.addEventListener("change", () => {
    const review = select.form.querySelector("button[name=step][value=review]");
    if (review) select.form.requestSubmit(review);
  });
});

// <div data-refresh="/url" data-every="2000">: replaced by the HTML fragment at /url every
// `data-every` ms until the fragment says `data-final` (a job's live progress). Without
// JS the page reloads itself (a <noscript> refresh in its head).
document.querySelectorAll("[data-refresh]").forEach((box) => {
  const every = Number(box.dataset.every || 2000);
  async function tick() {
    try {
      const answer = await fetch(box.dataset.refresh, { credentials: "same-origin" });
      if (answer.redirected || !answer.ok) return; // signed out or gone: leave the page as is
      const holder = document.createElement("div");
      holder.innerHTML = await answer.text(); // our own server-rendered, escaped fragment
      const fresh = holder.firstElementChild;
      if (!fresh) return;
      box.replaceChildren(...fresh.childNodes);
      if ("final" in fresh.dataset) return;
    } catch (error) {
      // the network blinked: try again on the next tick
    }
    window.setTimeout(tick, every);
  }
  if (!("final" in box.dataset)) window.setTimeout(tick, every);
});
