/* Box verification on the keyboard grid (same markup and keys as the image grid): each tile is
   an image with its box(es) drawn over it; select the tiles whose answer is yes. Keys: arrows
   move, Space toggles, a all, n none, z larger view, Enter submit, ? help. The shared grid
   helpers are in static/labeling/tilegrid.js. */
(function () {
  "use strict";

  const root = document.getElementById("verifier");
  if (!root) return;
  const el = (id) => document.getElementById(id);
  const grid = el("grid");
  const nextUrl = root.dataset.nextUrl;
  const kind = root.dataset.kind;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const helpDialog = el("help-dialog"), zoomDialog = el("zoom-dialog");
  const { tiles, focusTile, currentIndex, arrowKey } = TileGrid.create(grid);
  const setStatus = TileGrid.setStatus;
  const post = (url, body) => TileGrid.postJson(url, body, csrf);
  let current = JSON.parse(el("first-task").textContent);
  let startedAt = performance.now();
  let submitting = false;

  function count() {
    const all = tiles();
    el("selected-count").textContent = all.filter((t) => t.getAttribute("aria-pressed") === "true").length;
    el("item-count").textContent = all.length;
  }

  function frame(task, className) {
    // Boxes in percent of the image, so the frame can take any size with the image's aspect.
    const div = document.createElement("div");
    div.className = className;
    div.style.aspectRatio = task.width + " / " + task.height;
    if (task.width >= task.height) div.style.width = "100%"; else div.style.height = "100%";
    const img = document.createElement("img");
    img.src = task.image_url;
    img.alt = "";
    img.loading = "lazy";
    div.append(img);
    task.boxes.forEach((b) => {
      const box = document.createElement("div");
      box.className = "bbox";
      box.style.left = (100 * b.x / task.width) + "%";
      box.style.top = (100 * b.y / task.height) + "%";
      box.style.width = (100 * b.w / task.width) + "%";
      box.style.height = (100 * b.h / task.height) + "%";
      div.append(box);
    });
    return div;
  }

  function toggle(tile, value) {
    const pressed = value === undefined ? tile.getAttribute("aria-pressed") !== "true" : value;
    tile.setAttribute("aria-pressed", pressed ? "true" : "false");
    count();
  }

  function render(next) {
    current = next;
    el("empty").hidden = !!current;
    grid.replaceChildren();
    el("synset-name").textContent = current ? current.synset.lemmas.join(", ") : "";
    el("synset-gloss").textContent = current ? current.synset.gloss : "";
    if (!current) { count(); return; }
    current.tasks.forEach((task, i) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tile";
      button.dataset.task = task.id;
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-label", "Image " + (i + 1) + " with " + task.boxes.length + (task.boxes.length === 1 ? " box" : " boxes"));
      button.tabIndex = i === 0 ? 0 : -1;
      button.append(frame(task, "frame"));
      const check = document.createElement("span");
      check.className = "check";
      check.setAttribute("aria-hidden", "true");
      check.textContent = "✓";
      button.append(check);
      li.append(button);
      grid.append(li);
    });
    count();
    startedAt = performance.now();
    focusTile(0);
  }

  async function advance() {
    const response = await post(nextUrl, { kind, exclude: current ? [current.id] : [] });
    render(response.status === 200 ? await response.json() : null);
  }

  async function submit() {
    if (!current || submitting) return;
    submitting = true;
    const yes = [], no = [];
    tiles().forEach((t) => (t.getAttribute("aria-pressed") === "true" ? yes : no).push(Number(t.dataset.task)));
    setStatus("Submitting…");
    try {
      const response = await post(current.submit_url, { yes, no, duration_ms: Math.round(performance.now() - startedAt) });
      if (response.ok) {
        const result = await response.json();
        setStatus("Saved " + result.answers_recorded + (result.answers_recorded === 1 ? " answer." : " answers."));
        await advance();
      } else {
        let refusal = {};
        try { refusal = await response.json(); } catch (e) { /* not JSON */ }
        if (refusal.final) {
          setStatus("Not saved: " + (refusal.detail || refusal.code) + ". Here are other boxes.", true);
          await post(current.release_url, {}).catch(() => {});
          await advance();
        } else {
          setStatus("Could not submit (" + response.status + "). Press Enter to try again.", true);
        }
      }
    } catch (e) {
      setStatus("Network problem. Press Enter to try again.", true);
    } finally {
      submitting = false;
    }
  }

  function zoom(tile) {
    if (!tile || !current) return;
    const task = current.tasks.find((t) => String(t.id) === tile.dataset.task);
    const image = el("zoom-image");
    const big = frame(task, "");
    big.id = "zoom-frame";
    big.style.width = "min(88vw, 860px)";
    big.style.height = "auto";
    const old = el("zoom-frame");
    if (old) old.remove();
    image.hidden = true;
    image.after(big);
    zoomDialog.showModal();
  }

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest("button.tile");
    if (!tile) return;
    toggle(tile);
    focusTile(tiles().indexOf(tile));
  });

  document.addEventListener("keydown", (event) => {
    if (TileGrid.keyBlocked(event, helpDialog, zoomDialog)) return;
    const onTile = event.target.closest && event.target.closest("button.tile");
    const tag = (event.target.tagName || "").toLowerCase();
    const i = currentIndex();
    const all = tiles();
    if (arrowKey(event.key, i)) { event.preventDefault(); return; }
    switch (event.key) {
      case " ": if (all[i]) { toggle(all[i]); focusTile(i); } break;
      case "a": all.forEach((t) => toggle(t, true)); break;
      case "n": all.forEach((t) => toggle(t, false)); break;
      case "z": zoom(all[i]); break;
      case "?": helpDialog.showModal(); break;
      case "Enter":
        if (tag === "button" && !onTile && event.target.id !== "submit-button") return;
        if (tag === "a") return;
        submit();
        break;
      default: return;
    }
    event.preventDefault();
  });
  TileGrid.preventSpaceActivation();
  el("submit-button").addEventListener("click", submit);
  el("help-button").addEventListener("click", () => helpDialog.showModal());
  render(current);
})();
