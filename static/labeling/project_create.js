/* Project creation: find synsets by lemma (any language) or wnid through the public synset API
   and add them to the search list with one click or Enter. */
(function () {
  "use strict";
  const box = document.getElementById("synset-finder");
  if (!box) return;
  const input = document.getElementById("finder-query");
  const results = document.getElementById("finder-results");
  const target = document.querySelector("textarea[name=synsets]");
  let timer = null;

  function add(wnid) {
    const lines = target.value.split("\n").map((l) => l.trim()).filter(Boolean);
    if (!lines.includes(wnid)) lines.push(wnid);
    target.value = lines.join("\n");
  }

  async function search() {
    const q = input.value.trim();
    results.replaceChildren();
    if (q.length < 2) return;
    const response = await fetch(box.dataset.url + "?search=" + encodeURIComponent(q), { credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    (body.results || []).slice(0, 8).forEach((synset) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link-button";
      button.textContent = "Add";
      button.addEventListener("click", () => { add(synset.wnid); button.textContent = "Added"; });
      const text = document.createElement("span");
      text.textContent = " " + synset.name + " (" + synset.wnid + ", " + synset.subtree_size + " synsets) — " + synset.gloss;
      li.append(button, text);
      results.append(li);
    });
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 250); });
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();  // Enter adds the first match instead of submitting the form
    const first = results.querySelector("button");
    if (first) first.click();
  });
})();
