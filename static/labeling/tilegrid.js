/* What the keyboard grids share (the annotators' grid, gold review, box verification): tiles are
   the grid's button.tile elements with one roving tabindex. Keys handled here: the arrows move
   between tiles; while the keyboard help or the larger view is open, only z (closes the larger
   view) does anything. Each page keeps its own keys. Hand-written, no build step; load it before
   the page's script. */
(function () {
  "use strict";

  // One grid's tiles: create(gridElement) returns the helpers for that grid.
  function create(grid) {
    function tiles() {
      return Array.from(grid.querySelectorAll("button.tile"));
    }

    function focusTile(index) {
      const all = tiles();
      if (!all.length) return;
      index = Math.max(0, Math.min(all.length - 1, index));
      all.forEach((t, i) => (t.tabIndex = i === index ? 0 : -1));
      all[index].focus();
    }

    function currentIndex() {
      const all = tiles();
      const i = all.indexOf(document.activeElement);
      return i >= 0 ? i : all.findIndex((t) => t.tabIndex === 0);
    }

    // Tiles in the first row: the step of ArrowUp and ArrowDown.
    function columns() {
      const all = tiles();
      if (all.length < 2) return 1;
      const top = all[0].offsetTop;
      const n = all.findIndex((t) => t.offsetTop !== top);
      return n === -1 ? all.length : n;
    }

    // Moves the focus from tile i for an arrow key; false for any other key.
    function arrowKey(key, i) {
      switch (key) {
        case "ArrowRight": focusTile(i + 1); return true;
        case "ArrowLeft": focusTile(i - 1); return true;
        case "ArrowDown": focusTile(i + columns()); return true;
        case "ArrowUp": focusTile(i - columns()); return true;
        default: return false;
      }
    }

    return { tiles, focusTile, currentIndex, columns, arrowKey };
  }

  // True when a keydown is not the grid's: a modifier is held, or the help or the larger view is
  // open (z closes the larger view). Either dialog may be missing from the page.
  function keyBlocked(event, helpDialog, zoomDialog) {
    if (event.ctrlKey || event.metaKey || event.altKey) return true;
    const isOpen = (dialog) => !!(dialog && dialog.open);
    if (isOpen(helpDialog) || isOpen(zoomDialog)) {
      if (event.key === "z" && isOpen(zoomDialog)) { zoomDialog.close(); event.preventDefault(); }
      return true;
    }
    return false;
  }

  // Space activates a focused button on keyup; the page's keydown handler already acted on it.
  function preventSpaceActivation() {
    document.addEventListener("keyup", (event) => {
      if (event.key === " " && event.target.closest && event.target.closest("button.tile")) {
        event.preventDefault();
      }
    });
  }

  // A JSON POST to our own API with Django's CSRF header.
  async function postJson(url, body, csrf) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    });
  }

  // The page's status line (#status); errors are styled as such.
  function setStatus(text, isError) {
    const status = document.getElementById("status");
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  window.TileGrid = { create, keyBlocked, preventSpaceActivation, postJson, setStatus };
})();
