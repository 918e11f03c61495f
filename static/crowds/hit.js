/* Crowd HIT pages (MTurk frame and panel link): a plain form around the image grid, so it works
   without a session. Click or Space toggles an image, arrows move, a = all, n = none, Enter
   submits. On the "answers saved" page the form to MTurk's externalSubmit posts itself.
   Hand-written, no build step. */
(function () {
  "use strict";

  const auto = document.querySelector("form[data-auto-submit]");
  if (auto) {
    // The answer is stored on our side already; MTurk needs the post to close the assignment.
    auto.submit();
    return;
  }

  const grid = document.getElementById("crowd-grid");
  const form = document.getElementById("crowd-form");
  if (!grid || !form) return;
  const startedAt = performance.now();
  const tiles = () => Array.from(grid.querySelectorAll("button.tile"));
  const count = document.getElementById("selected-count");

  function sync() {
    const chosen = tiles().filter((t) => t.getAttribute("aria-pressed") === "true");
    document.getElementById("selected-input").value = chosen.map((t) => t.dataset.item).join(",");
    if (count) count.textContent = chosen.length;
  }

  function toggle(tile, value) {
    const pressed = value === undefined ? tile.getAttribute("aria-pressed") !== "true" : value;
    tile.setAttribute("aria-pressed", pressed ? "true" : "false");
    sync();
  }

  function focusTile(index) {
    const all = tiles();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((t, i) => (t.tabIndex = i === index ? 0 : -1));
    all[index].focus();
  }

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest("button.tile");
    if (!tile) return;
    toggle(tile);
    focusTile(tiles().indexOf(tile));
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const all = tiles();
    const i = Math.max(0, all.indexOf(document.activeElement));
    switch (event.key) {
      case "ArrowRight": focusTile(i + 1); break;
      case "ArrowLeft": focusTile(i - 1); break;
      case " ":
        if (all[i] && document.activeElement === all[i]) toggle(all[i]); else return;
        break;
      case "a": all.forEach((t) => toggle(t, true)); break;
      case "n": all.forEach((t) => toggle(t, false)); break;
      case "Enter": form.requestSubmit(); break;
      default: return;
    }
    event.preventDefault();
  });
  // Space activates a focused button on keyup; keydown already toggled it.
  document.addEventListener("keyup", (event) => {
    if (event.key === " " && event.target.closest && event.target.closest("button.tile")) {
      event.preventDefault();
    }
  });

  let sent = false;
  form.addEventListener("submit", (event) => {
    if (sent) { event.preventDefault(); return; }
    sent = true;
    sync();
    document.getElementById("duration-input").value = Math.round(performance.now() - startedAt);
    document.getElementById("submit-button").disabled = true;
  });
  sync();
  if (tiles().length) tiles()[0].tabIndex = 0;
})();
