/* Precision audit review: submitting a batch with no image marked correct counts every image of
   it as an error, so ask first. Runs in the capture phase, before the grid's own handlers, and
   lets the submit through unchanged when the reviewer confirms. */
(() => {
  "use strict";
  const root = document.getElementById("labeler");
  if (!root) return;
  const question = root.dataset.confirmNone ||
    "No image is marked correct: every image of this batch will count as an error. Submit anyway?";

  function noneSelected() {
    const tiles = root.querySelectorAll("button.tile");
    return tiles.length > 0 && !root.querySelector('button.tile[aria-pressed="true"]');
  }
  function dialogOpen() {
    return Array.from(document.querySelectorAll("dialog")).some((d) => d.open);
  }
  function guard(event) {
    if (noneSelected() && !window.confirm(question)) {
      event.stopImmediatePropagation();
      event.preventDefault();
    }
  }
  window.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.ctrlKey || event.metaKey || event.altKey || dialogOpen()) return;
    const target = event.target;
    const onTile = target.closest && target.closest("button.tile");
    if (onTile || target === document.body || target.id === "submit-button") guard(event);
  }, true);
  window.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#submit-button")) guard(event);
  }, true);
})();
