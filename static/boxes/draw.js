/* The draw page: one image, one new box per task (Su, Deng & Fei-Fei 2012). Drag with mouse,
   pen or finger (Pointer Events); keys: b new box, e / Shift+e select edge, arrows 1 px
   (Shift 10 px), + - 0 zoom, n nothing left, Enter submit, Esc cancel, ? help. Boxes are kept
   in image pixels; the screen only scales them. Hand-written, no build step. */
(function () {
  "use strict";

  const root = document.getElementById("boxer");
  if (!root) return;
  const el = (id) => document.getElementById(id);
  const stage = el("stage"), layer = el("layer"), photo = el("photo"), viewport = el("viewport");
  const helpDialog = el("help-dialog");
  const nextUrl = root.dataset.nextUrl;
  const minBox = Number(root.dataset.minBox) || 4;
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const EDGES = ["box", "left", "top", "right", "bottom"];
  const GRAB = 10; // screen pixels around an edge that grab it

  let current = JSON.parse(el("first-task").textContent);
  let box = null;      // {x, y, w, h} in image pixels
  let edge = "box";    // what the arrow keys move
  let zoom = 1;        // 1 = the image fits the viewport's width
  let drag = null;
  let startedAt = performance.now();
  let submitting = false;

  function image() { return current && current.tasks[0]; }

  function setStatus(text, isError) {
    el("status").textContent = text;
    el("status").classList.toggle("error", !!isError);
  }

  function scale() {
    const img = image();
    return img ? stage.clientWidth / img.width : 1;
  }

  function layout() {
    const img = image();
    if (!img) return;
    const fit = Math.min(viewport.clientWidth || img.width, img.width * 4);
    const width = Math.max(80, Math.round(fit * zoom));
    stage.style.width = width + "px";
    stage.style.height = Math.round(width * img.height / img.width) + "px";
    draw();
  }

  function place(div, b) {
    const s = scale();
    div.style.left = b.x * s + "px";
    div.style.top = b.y * s + "px";
    div.style.width = b.w * s + "px";
    div.style.height = b.h * s + "px";
  }

  function draw() {
    layer.replaceChildren();
    const img = image();
    if (!img) return;
    img.boxes.forEach((b) => {
      const div = document.createElement("div");
      div.className = "bbox accepted";
      place(div, b);
      layer.append(div);
    });
    if (box) {
      const div = document.createElement("div");
      div.className = "bbox current";
      div.id = "current-box";
      div.dataset.edge = edge;
      ["left", "top", "right", "bottom"].forEach((name) => {
        const handle = document.createElement("span");
        handle.className = "edge " + name;
        div.append(handle);
      });
      place(div, box);
      layer.append(div);
    }
    readout();
  }

  function readout() {
    const text = box
      ? "Box: x " + box.x + ", y " + box.y + ", " + box.w + " × " + box.h + " px · arrows move: " +
        (edge === "box" ? "whole box" : edge + " edge")
      : "No box yet.";
    el("readout").textContent = text;
  }

  function clampBox(b) {
    const img = image();
    const x1 = Math.max(0, Math.min(img.width, Math.round(b.x)));
    const y1 = Math.max(0, Math.min(img.height, Math.round(b.y)));
    const x2 = Math.max(0, Math.min(img.width, Math.round(b.x + b.w)));
    const y2 = Math.max(0, Math.min(img.height, Math.round(b.y + b.h)));
    return { x: Math.min(x1, x2), y: Math.min(y1, y2), w: Math.abs(x2 - x1), h: Math.abs(y2 - y1) };
  }

  function tooSmall(b) { return !b || b.w < minBox || b.h < minBox; }

  function point(event) {
    const rect = stage.getBoundingClientRect();
    const s = scale();
    return { x: (event.clientX - rect.left) / s, y: (event.clientY - rect.top) / s };
  }

  function edgeAt(p) {
    if (!box) return null;
    const tol = GRAB / scale();
    const inY = p.y >= box.y - tol && p.y <= box.y + box.h + tol;
    const inX = p.x >= box.x - tol && p.x <= box.x + box.w + tol;
    if (inY && Math.abs(p.x - box.x) <= tol) return "left";
    if (inY && Math.abs(p.x - (box.x + box.w)) <= tol) return "right";
    if (inX && Math.abs(p.y - box.y) <= tol) return "top";
    if (inX && Math.abs(p.y - (box.y + box.h)) <= tol) return "bottom";
    return null;
  }

  stage.addEventListener("pointerdown", (event) => {
    if (!image() || (event.pointerType === "mouse" && event.button !== 0)) return;
    event.preventDefault();
    stage.focus({ preventScroll: true });
    stage.setPointerCapture(event.pointerId);
    const p = point(event);
    const grabbed = edgeAt(p);
    if (grabbed) {
      edge = grabbed;
      drag = { mode: "edge", before: { ...box } };
    } else {
      drag = { mode: "new", origin: p, before: box && { ...box } };
      box = clampBox({ x: p.x, y: p.y, w: 0, h: 0 });
      edge = "box";
    }
    draw();
  });

  stage.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const p = point(event);
    if (drag.mode === "new") {
      box = clampBox({ x: drag.origin.x, y: drag.origin.y, w: p.x - drag.origin.x, h: p.y - drag.origin.y });
    } else {
      box = moveEdgeTo(edge, p);
    }
    draw();
  });

  function finishDrag() {
    if (!drag) return;
    const before = drag.before;
    drag = null;
    if (tooSmall(box)) {
      setStatus("That box is too small (at least " + minBox + " × " + minBox + " pixels). Drag again.", true);
      box = before && !tooSmall(before) ? before : null;
      edge = "box";
    } else {
      setStatus("Adjust with the arrow keys (e selects an edge), then press Enter.");
    }
    draw();
  }
  stage.addEventListener("pointerup", finishDrag);
  stage.addEventListener("pointercancel", finishDrag);

  function moveEdgeTo(name, p) {
    const x2 = box.x + box.w, y2 = box.y + box.h;
    if (name === "left") return clampBox({ x: p.x, y: box.y, w: x2 - p.x, h: box.h });
    if (name === "right") return clampBox({ x: box.x, y: box.y, w: p.x - box.x, h: box.h });
    if (name === "top") return clampBox({ x: box.x, y: p.y, w: box.w, h: y2 - p.y });
    return clampBox({ x: box.x, y: box.y, w: box.w, h: p.y - box.y });
  }

  function nudge(dx, dy) {
    if (!box) return;
    const img = image();
    const b = { ...box };
    if (edge === "box") {
      b.x = Math.max(0, Math.min(img.width - b.w, b.x + dx));
      b.y = Math.max(0, Math.min(img.height - b.h, b.y + dy));
    } else if (edge === "left" && dx) {
      const x = Math.max(0, Math.min(b.x + b.w - minBox, b.x + dx));
      b.w += b.x - x; b.x = x;
    } else if (edge === "right" && dx) {
      b.w = Math.max(minBox, Math.min(img.width - b.x, b.w + dx));
    } else if (edge === "top" && dy) {
      const y = Math.max(0, Math.min(b.y + b.h - minBox, b.y + dy));
      b.h += b.y - y; b.y = y;
    } else if (edge === "bottom" && dy) {
      b.h = Math.max(minBox, Math.min(img.height - b.y, b.h + dy));
    }
    box = b;
    draw();
  }

  function newBoxInMiddle() {
    const img = image();
    if (!img) return;
    const w = Math.max(minBox, Math.round(img.width / 2)), h = Math.max(minBox, Math.round(img.height / 2));
    box = clampBox({ x: (img.width - w) / 2, y: (img.height - h) / 2, w, h });
    edge = "box";
    setStatus("A box in the middle: move it with the arrows, e selects an edge.");
    draw();
  }

  function setZoom(value) {
    const centre = { x: viewport.scrollLeft + viewport.clientWidth / 2, y: viewport.scrollTop + viewport.clientHeight / 2 };
    const old = stage.clientWidth || 1;
    zoom = Math.max(1, Math.min(8, value));
    layout();
    const ratio = stage.clientWidth / old;
    viewport.scrollLeft = centre.x * ratio - viewport.clientWidth / 2;
    viewport.scrollTop = centre.y * ratio - viewport.clientHeight / 2;
    setStatus("Zoom " + zoom.toFixed(zoom < 2 ? 2 : 1).replace(/\.?0+$/, "") + "×");
  }

  async function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    });
  }

  function render(next) {
    current = next;
    box = null;
    edge = "box";
    zoom = 1;
    el("empty").hidden = !!current;
    viewport.hidden = !current;
    if (!current) {
      el("synset-name").textContent = "";
      el("synset-gloss").textContent = "";
      readout();
      return;
    }
    el("synset-name").textContent = current.synset.lemmas.join(", ");
    el("synset-gloss").textContent = current.synset.gloss;
    photo.src = image().image_url;
    layout();
    startedAt = performance.now();
    stage.focus({ preventScroll: true });
  }

  async function advance() {
    const response = await post(nextUrl, { kind: "draw", exclude: current ? [current.id] : [] });
    render(response.status === 200 ? await response.json() : null);
  }

  async function send(body, okText) {
    if (!current || submitting) return;
    submitting = true;
    setStatus("Submitting…");
    try {
      const response = await post(current.submit_url, {
        task: image().id, duration_ms: Math.round(performance.now() - startedAt), ...body,
      });
      if (response.ok) {
        setStatus(okText);
        await advance();
        return;
      }
      let refusal = {};
      try { refusal = await response.json(); } catch (e) { /* not JSON */ }
      if (refusal.code === "malformed_box") {
        setStatus("Not saved: " + refusal.detail + ".", true);
      } else if (refusal.final) {
        setStatus("Not saved: " + (refusal.detail || refusal.code) + ". Here is another image.", true);
        await post(current.release_url, {}).catch(() => {});
        await advance();
      } else if (response.status === 403) {
        setStatus("Not saved: you are signed out or may no longer box this project. Reload the page.", true);
      } else {
        setStatus("Could not submit (" + response.status + "). Press Enter to try again.", true);
      }
    } catch (e) {
      // A re-post is safe: the server answers it with the stored result.
      setStatus("Network problem. Press Enter to try again.", true);
    } finally {
      submitting = false;
    }
  }

  function submit() {
    if (!current) return;
    if (!box) { setStatus("Draw a box first (drag on the image, or press b), or press n if nothing is left to box.", true); return; }
    if (tooSmall(box)) { setStatus("That box is too small (at least " + minBox + " × " + minBox + " pixels).", true); return; }
    send({ box: { x: box.x, y: box.y, w: box.w, h: box.h } }, "Box saved.");
  }

  function nothingLeft() {
    if (!current) return;
    send({ box: null, nothing_left: true }, "Saved: nothing left to box.");
  }

  function cancel() {
    drag = null;
    box = null;
    edge = "box";
    setStatus("Box removed.");
    draw();
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (helpDialog.open) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea") return;
    if (tag === "button" && (event.key === "Enter" || event.key === " ")) return; // the button's own action
    const step = event.shiftKey ? 10 : 1;
    switch (event.key) {
      case "ArrowLeft": nudge(-step, 0); break;
      case "ArrowRight": nudge(step, 0); break;
      case "ArrowUp": nudge(0, -step); break;
      case "ArrowDown": nudge(0, step); break;
      case "e": case "E": {
        if (!box) return;
        const i = EDGES.indexOf(edge);
        edge = EDGES[(i + (event.shiftKey ? EDGES.length - 1 : 1)) % EDGES.length];
        draw();
        break;
      }
      case "b": newBoxInMiddle(); break;
      case "+": case "=": setZoom(zoom * 1.5); break;
      case "-": case "_": setZoom(zoom / 1.5); break;
      case "0": setZoom(1); break;
      case "n": nothingLeft(); break;
      case "Enter": submit(); break;
      case "Escape": cancel(); break;
      case "?": helpDialog.showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

  el("submit-button").addEventListener("click", submit);
  el("nothing-button").addEventListener("click", nothingLeft);
  el("help-button").addEventListener("click", () => helpDialog.showModal());
  el("zoom-in").addEventListener("click", () => setZoom(zoom * 1.5));
  el("zoom-out").addEventListener("click", () => setZoom(zoom / 1.5));
  window.addEventListener("resize", layout);
  render(current);
})();
