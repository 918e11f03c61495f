/* The image grid of every page that shows a HIT (templates/labeling/_hit_grid.html):
   keyboard-first selection and submit. Hand-written, no build step; the tile focus, arrow keys
   and JSON posts shared with the other grids are in tilegrid.js. Keys: arrows move,
   Space toggles, a = all, n = none, z = larger view, Enter = submit, ? = help.

   data-grid="api": the annotators' page and the audit review — answers go to the JSON API and
   the next HIT is prefetched. data-grid="form": the panel and MTurk pages — a plain form post,
   so it works framed and without a session. On MTurk's "answers saved" page the form to
   MTurk's externalSubmit posts itself. */
(function () {
  "use strict";

  const auto = document.querySelector("form[data-auto-submit]");
  if (auto) {
    // The answer is stored on our side already; MTurk needs the post to close the assignment.
    auto.submit();
    return;
  }

  const root = document.querySelector("[data-grid]");
  if (!root) return;
  const formMode = root.dataset.grid === "form";
  const el = (id) => document.getElementById(id);
  const grid = el("grid");
  const form = formMode ? el("crowd-form") : null;
  // MTurk's preview has images but nothing to submit.
  if (!grid || (formMode && !form)) return;
  const nextUrl = root.dataset.nextUrl;
  const statsUrl = root.dataset.statsUrl;
  const csrfInput = root.querySelector("input[name=csrfmiddlewaretoken]");
  const csrf = csrfInput ? csrfInput.value : "";
  const helpDialog = el("help-dialog");
  const zoomDialog = el("zoom-dialog");
  const { tiles, focusTile, currentIndex, arrowKey } = TileGrid.create(grid);
  const setStatus = TileGrid.setStatus;
  const post = (url, body) => TileGrid.postJson(url, body, csrf);

  let hit = formMode ? null : JSON.parse(el("first-hit").textContent);
  let prefetched = null;
  let prefetching = null;
  let startedAt = performance.now();
  let submitting = false;

  // A HIT whose submission the server refused for good (its images were answered already,
  // re-leased after the lease ran out, or the project closed): the page offers to release it.
  let stuck = false;

  function setStuck(value) {
    stuck = value;
    el("skip-button").hidden = !value;
    el("submit-button").hidden = value;
    if (value) el("skip-button").focus();
  }

  function updateCount() {
    const all = tiles();
    const chosen = all.filter((t) => t.getAttribute("aria-pressed") === "true");
    el("selected-count").textContent = chosen.length;
    if (el("item-count")) el("item-count").textContent = all.length;
    if (formMode) el("selected-input").value = chosen.map((t) => t.dataset.item).join(",");
  }

  function toggle(tile, value) {
    const pressed = value === undefined ? tile.getAttribute("aria-pressed") !== "true" : value;
    tile.setAttribute("aria-pressed", pressed ? "true" : "false");
    updateCount();
  }

  function render(next) {
    hit = next;
    el("empty").hidden = !!hit;
    grid.replaceChildren();
    el("bar-synset").textContent = hit ? hit.synset.lemmas.join(", ") : "";
    // Nothing to submit or look up without a HIT (nothing left, or the account is paused).
    ["synset-wiki", "progress", "hit-actions"].forEach((id) => {
      if (el(id)) el(id).hidden = !hit;
    });
    if (!hit) {
      el("synset-name").textContent = "";
      el("synset-gloss").textContent = "";
      el("synset-parent").textContent = "";
      updateCount();
      return;
    }
    const s = hit.synset;
    el("synset-name").textContent = s.lemmas.join(", ");
    el("synset-gloss").textContent = s.gloss;
    const parent = el("synset-parent");
    parent.replaceChildren();
    if (s.parent) {
      const strong = document.createElement("strong");
      strong.textContent = s.parent.name;
      parent.append("a kind of ", strong);
    }
    el("synset-wiki").href = s.wikipedia_url;
    hit.items.forEach((item, i) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tile";
      button.dataset.item = item.id;
      button.dataset.image = item.image_url;
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-label", "Image " + (i + 1));
      button.tabIndex = i === 0 ? 0 : -1;
      const img = document.createElement("img");
      img.src = item.thumbnail_url;
      img.alt = "";
      img.width = 160;
      img.height = 160;
      const check = document.createElement("span");
      check.className = "check";
      check.setAttribute("aria-hidden", "true");
      check.textContent = "✓";
      button.append(img, check);
      li.append(button);
      grid.append(li);
    });
    updateCount();
    startedAt = performance.now();
    focusTile(0);
  }

  function prefetch() {
    if (!hit || prefetched || prefetching) return prefetching;
    const current = hit.id;
    prefetching = post(nextUrl, { exclude: [current] })
      .then(async (response) => {
        if (response.status === 200) {
          const next = await response.json();
          if (next.id !== current) {
            prefetched = next;
            // Warm the browser cache so the next grid appears at once.
            next.items.forEach((item) => { new Image().src = item.thumbnail_url; });
          }
        }
      })
      .catch(() => {})
      .finally(() => { prefetching = null; });
    return prefetching;
  }

  function showTotals(totals) {
    el("stat-hits").textContent = totals.hits_submitted;
    el("stat-earnings").textContent = "$" + (totals.earnings_cents / 100).toFixed(2);
  }

  async function refreshStats() {
    try {
      const response = await fetch(statsUrl, { credentials: "same-origin" });
      if (response.ok) showTotals(await response.json());
    } catch (e) { /* stats are cosmetic */ }
  }

  async function advance() {
    if (prefetching) await prefetching;
    let next = prefetched;
    prefetched = null;
    if (!next) {
      const response = await post(nextUrl, { exclude: hit ? [hit.id] : [] });
      next = response.status === 200 ? await response.json() : null;
    }
    render(next);
    prefetch();
  }

  async function skipStuck() {
    if (!hit || submitting) return;
    submitting = true;
    el("skip-button").disabled = true;
    try {
      // Releasing is best effort: an unreleased lease still runs out by itself.
      await post(hit.release_url, {}).catch(() => {});
      setStuck(false);
      setStatus("Skipped that HIT; here are new images.");
      await advance();
    } finally {
      submitting = false;
      el("skip-button").disabled = false;
    }
  }

  async function refusal(response) {
    try {
      const body = await response.json();
      if (body && body.final) return body.detail || body.code || "refused";
    } catch (e) { /* not JSON: not a refusal the page understands */ }
    return null;
  }

  async function submit() {
    if (formMode) { form.requestSubmit(); return; }
    if (stuck) return skipStuck();
    if (!hit || submitting) return;
    submitting = true;
    el("submit-button").disabled = true;
    const all = tiles();
    const selected = [], unselected = [];
    all.forEach((t) => (t.getAttribute("aria-pressed") === "true" ? selected : unselected).push(Number(t.dataset.item)));
    setStatus("Submitting…");
    try {
      const response = await post(hit.submit_url, {
        selected, unselected, duration_ms: Math.round(performance.now() - startedAt),
      });
      if (response.ok) {
        const result = await response.json();
        setStatus("Saved " + result.votes_recorded + (result.votes_recorded === 1 ? " answer." : " answers."));
        if (result.blocked) {
          // No more HITs for a paused account: give the prefetched one back at once.
          if (prefetching) await prefetching;
          if (prefetched) post(prefetched.release_url, {}).catch(() => {});
          prefetched = null;
          el("empty-nothing").hidden = true;
          el("empty-blocked").hidden = false;
          render(null);
        } else {
          await advance();
        }
        // Once the next grid is on screen (so a changed count means the page has moved on): a
        // HIT's submission carries the worker's new totals (no stats request per HIT); an audit
        // batch's does not, and its page asks for the audit's progress instead.
        if ("hits_submitted" in result) showTotals(result); else refreshStats();
      } else {
        const reason = await refusal(response);
        if (reason) {
          setStatus("Not saved: " + reason + ". Press Enter to skip this HIT and load the next one.", true);
          setStuck(true);
        } else if (response.status === 403) {
          setStatus("Not saved: you are signed out or may no longer label this project. Reload the page.", true);
        } else {
          setStatus("Could not submit (" + response.status + "). Press Enter to try again.", true);
        }
      }
    } catch (e) {
      // Submitting again is safe: the server answers a re-post with the stored result.
      setStatus("Network problem. Press Enter to try again.");
    } finally {
      submitting = false;
      el("submit-button").disabled = false;
    }
  }

  function zoom(tile) {
    if (!tile || !zoomDialog) return;
    el("zoom-image").src = tile.dataset.image;
    zoomDialog.showModal();
  }

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest("button.tile");
    if (!tile) return;
    if (tile.dataset.longPressed) { delete tile.dataset.longPressed; return; }
    toggle(tile);
    focusTile(tiles().indexOf(tile));
  });

  // Long-press opens the larger view on touch screens.
  let pressTimer = null;
  grid.addEventListener("pointerdown", (event) => {
    const tile = event.target.closest("button.tile");
    if (!tile || event.pointerType === "mouse") return;
    pressTimer = setTimeout(() => { tile.dataset.longPressed = "1"; zoom(tile); }, 550);
  });
  ["pointerup", "pointercancel", "pointerleave"].forEach((name) =>
    grid.addEventListener(name, () => clearTimeout(pressTimer)));
  grid.addEventListener("contextmenu", (event) => {
    if (event.target.closest("button.tile")) event.preventDefault();
  });

  document.addEventListener("keydown", (event) => {
    if (TileGrid.keyBlocked(event, helpDialog, zoomDialog)) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea") return;
    const onTile = event.target.closest && event.target.closest("button.tile");
    const inLabeler = onTile || event.target === document.body || root.contains(event.target);
    if (!inLabeler) return;
    const i = currentIndex();
    const all = tiles();
    if (arrowKey(event.key, i)) { event.preventDefault(); return; }
    switch (event.key) {
      case "Home": focusTile(0); break;
      case "End": focusTile(all.length - 1); break;
      case " ":
        if (all[i]) { toggle(all[i]); focusTile(i); }
        break;
      case "a": all.forEach((t) => toggle(t, true)); break;
      case "n": all.forEach((t) => toggle(t, false)); break;
      case "z": zoom(all[i]); break;
      case "?": if (helpDialog) helpDialog.showModal(); break;
      case "Enter":
        // Enter on a link or another control keeps its meaning.
        if (!onTile && event.target !== document.body && tag !== "button") return;
        if (tag === "button" && !onTile && event.target.id !== "submit-button" &&
            event.target.id !== "skip-button") return;
        submit();
        break;
      default: return;
    }
    event.preventDefault();
  });
  TileGrid.preventSpaceActivation();

  if (formMode) {
    let sent = false;
    form.addEventListener("submit", (event) => {
      if (sent) { event.preventDefault(); return; }
      sent = true;
      updateCount();
      el("duration-input").value = Math.round(performance.now() - startedAt);
      el("submit-button").disabled = true;
    });
  } else {
    el("submit-button").addEventListener("click", submit);
  }
  if (el("skip-button")) el("skip-button").addEventListener("click", skipStuck);
  if (el("help-button")) el("help-button").addEventListener("click", () => helpDialog.showModal());

  // The synset's name rides in the sticky bar once the header scrolls out of view (long grids).
  if ("IntersectionObserver" in window && el("bar-synset")) {
    const bar = el("bar-synset");
    bar.classList.add("offscreen-only");
    new IntersectionObserver((entries) => {
      bar.classList.toggle("shown", !entries[0].isIntersecting);
    }).observe(el("synset-name"));
  }

  updateCount();
  if (hit) {
    startedAt = performance.now();
    const first = tiles()[0];
    if (first) first.focus({ preventScroll: true });
    prefetch();
  }
})();
