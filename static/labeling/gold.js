/* Gold review on the keyboard grid: the annotators' grid markup (static/labeling/grid.css) with
   three answers per image instead of two. Keys: arrows move, y = gold yes, x = gold no,
   s = skip, Space cycles, a = all gold yes, n = all skipped, z = larger view, Enter saves,
   ? = help. Hand-written, no build step; the shared grid helpers are in tilegrid.js. */
(function () {
  "use strict";
  const root = document.getElementById("gold-review");
  if (!root) return;
  const el = (id) => document.getElementById(id);
  const grid = el("grid");
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const helpDialog = el("help-dialog");
  const zoomDialog = el("zoom-dialog");
  const { tiles, focusTile, currentIndex, arrowKey } = TileGrid.create(grid);
  const setStatus = TileGrid.setStatus;
  const post = (url, body) => TileGrid.postJson(url, body, csrf);
  const STATES = ["yes", "no", "skip"];
  const LABELS = { yes: "gold yes", no: "gold no", skip: "skip" };
  let batch = JSON.parse(el("first-batch").textContent);
  const seen = [];
  let saving = false;

  function updateCounts() {
    const counts = { yes: 0, no: 0, skip: 0 };
    tiles().forEach((t) => { counts[t.dataset.gold] += 1; });
    STATES.forEach((s) => { el("count-" + s).textContent = counts[s]; });
  }

  function setState(tile, state) {
    tile.dataset.gold = state;
    tile.querySelector(".gold-badge").textContent = LABELS[state];
    tile.setAttribute("aria-label", tile.dataset.name + ": " + LABELS[state]);
    updateCounts();
  }

  function render(next) {
    batch = next;
    el("empty").hidden = !!batch;
    root.querySelector(".hit-bar").hidden = !batch;  // nothing to save without images
    grid.replaceChildren();
    el("synset-name").textContent = batch ? batch.synset.lemmas.join(", ") : "";
    el("synset-gloss").textContent = batch ? batch.synset.gloss : "";
    el("remaining").textContent = batch ? batch.remaining : 0;
    if (!batch) { updateCounts(); return; }
    batch.items.forEach((item, i) => {
      seen.push(item.id);
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tile";
      button.dataset.item = item.id;
      button.dataset.image = item.image_url;
      button.dataset.name = "Image " + (i + 1);
      button.tabIndex = i === 0 ? 0 : -1;
      const img = document.createElement("img");
      img.src = item.thumbnail_url;
      img.alt = "";
      img.width = 160;
      img.height = 160;
      const badge = document.createElement("span");
      badge.className = "gold-badge";
      const check = document.createElement("span");
      check.className = "check";
      check.setAttribute("aria-hidden", "true");
      button.append(img, badge, check);
      if (item.yes_votes + item.no_votes > 0) {
        const votes = document.createElement("span");
        votes.className = "votes";
        votes.textContent = item.yes_votes + " yes · " + item.no_votes + " no";
        button.append(votes);
      }
      li.append(button);
      grid.append(li);
      setState(button, item.proposed === true ? "yes" : item.proposed === false ? "no" : "skip");
    });
    focusTile(0);
  }

  async function loadNext() {
    const body = { mode: root.dataset.mode, exclude: seen.slice(-2000) };
    if (root.dataset.synset) body.synset = root.dataset.synset;
    const response = await post(root.dataset.nextUrl, body);
    render(response.status === 200 ? await response.json() : null);
  }

  async function save() {
    if (!batch || saving) return;
    saving = true;
    el("submit-button").disabled = true;
    const answer = { yes: [], no: [], skip: [] };
    tiles().forEach((t) => answer[t.dataset.gold].push(Number(t.dataset.item)));
    setStatus("Saving…");
    try {
      const response = await post(batch.submit_url, answer);
      if (response.ok) {
        const result = await response.json();
        setStatus("Saved: " + result.gold_yes + " gold yes, " + result.gold_no + " gold no, " + result.skipped + " skipped.");
        await loadNext();
      } else {
        let detail = "";
        try { detail = JSON.stringify(await response.json()); } catch (e) { /* not JSON */ }
        setStatus("Not saved (" + response.status + ") " + detail, true);
      }
    } catch (e) {
      setStatus("Network problem. Press Enter to try again.", true);
    } finally {
      saving = false;
      el("submit-button").disabled = false;
    }
  }

  function zoom(tile) {
    if (!tile) return;
    el("zoom-image").src = tile.dataset.image;
    zoomDialog.showModal();
  }

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest("button.tile");
    if (!tile) return;
    setState(tile, STATES[(STATES.indexOf(tile.dataset.gold) + 1) % 3]);
    focusTile(tiles().indexOf(tile));
  });

  document.addEventListener("keydown", (event) => {
    if (TileGrid.keyBlocked(event, helpDialog, zoomDialog)) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    const onTile = event.target.closest && event.target.closest("button.tile");
    if (!onTile && event.target !== document.body && !root.contains(event.target)) return;
    const i = currentIndex();
    const all = tiles();
    if (arrowKey(event.key, i)) { event.preventDefault(); return; }
    switch (event.key) {
      case "y": if (all[i]) { setState(all[i], "yes"); focusTile(i + 1); } break;
      case "x": if (all[i]) { setState(all[i], "no"); focusTile(i + 1); } break;
      case "s": if (all[i]) { setState(all[i], "skip"); focusTile(i + 1); } break;
      case " ": if (all[i]) setState(all[i], STATES[(STATES.indexOf(all[i].dataset.gold) + 1) % 3]); break;
      case "a": all.forEach((t) => setState(t, "yes")); break;
      case "n": all.forEach((t) => setState(t, "skip")); break;
      case "z": zoom(all[i]); break;
      case "?": helpDialog.showModal(); break;
      case "Enter":
        if (tag === "a" || (tag === "button" && !onTile && event.target.id !== "submit-button")) return;
        save();
        break;
      default: return;
    }
    event.preventDefault();
  });
  TileGrid.preventSpaceActivation();
  el("submit-button").addEventListener("click", save);
  el("help-button").addEventListener("click", () => helpDialog.showModal());
  render(batch);
})();
