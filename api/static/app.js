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

// <div data-refresh="/url" data-stream="/events" data-every="2000">: replaced by the HTML
// fragment at /url whenever the job changes, until the fragment says `data-final` (a
// job's live progress). The changes come from the Server-Sent Events at `data-stream`
// (the job's live-progress stream); without EventSource, or when the stream is refused
// (signed out, too many streams), the fragment is polled every `data-every` ms instead.
// Without JS the page reloads itself (a <noscript> refresh in its head).
document.querySelectorAll("[data-refresh]").forEach((box) => {
  const every = Number(box.dataset.every || 2000);
  let final = "final" in box.dataset;
  let busy = false;
  let again = false;

  // fetch the fragment and swap it in; false when signed out or gone (stop asking)
  async function refresh() {
    try {
      const answer = await fetch(box.dataset.refresh, { credentials: "same-origin" });
      if (answer.redirected || !answer.ok) return false;
      const holder = document.createElement("div");
      holder.innerHTML = await answer.text(); // our own server-rendered, escaped fragment
      const fresh = holder.firstElementChild;
      if (fresh) {
        box.replaceChildren(...fresh.childNodes);
        if ("final" in fresh.dataset) final = true;
      }
    } catch (error) {
      // the network blinked: the next change or tick tries again
    }
    return true;
  }

  function poll() {
    async function tick() {
      if ((await refresh()) && !final) window.setTimeout(tick, every);
    }
    window.setTimeout(tick, every);
  }

  // one fetch at a time; changes that arrive meanwhile make one more
  async function changed() {
    if (busy) { again = true; return; }
    busy = true;
    do {
      again = false;
      await refresh();
    } while (again && !final);
    busy = false;
  }

  if (final) return;
  if (!box.dataset.stream || !("EventSource" in window)) return poll();
  const source = new EventSource(box.dataset.stream);
  source.addEventListener("job", changed);
  source.addEventListener("finished", async () => {
    source.close();
    await changed();
    // the backlinks' evidence may land just after the job's last change
    window.setTimeout(refresh, every);
  });
  source.addEventListener("error", () => {
    // CONNECTING: the browser reconnects by itself; CLOSED: refused, so poll instead
    if (source.readyState === EventSource.CLOSED && !final) poll();
  });
});
