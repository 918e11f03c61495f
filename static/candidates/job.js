// Live progress of a collection job: polls the job API every second while it is active, with
// the rejections by reason and what matched no synset of the job.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const field = (name) => document.getElementById("job-" + name);
  const active = new Set(["pending", "running", "cancelling"]);

  function rows(tbody, entries, code) {
    tbody.replaceChildren();
    entries.forEach(([key, n]) => {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      if (code) { const c = document.createElement("code"); c.textContent = key; name.append(c); }
      else name.textContent = key;
      const count = document.createElement("td");
      count.className = "num";
      count.textContent = n;
      tr.append(name, count);
      tbody.append(tr);
    });
  }

  function list(ul, items) {
    ul.replaceChildren();
    items.forEach((text) => { const li = document.createElement("li"); li.textContent = text; ul.append(li); });
  }

  async function poll() {
    const response = await fetch(root.dataset.url, { credentials: "same-origin" });
    if (!response.ok) return setTimeout(poll, 3000);
    const job = await response.json();
    field("progress").value = job.synsets_done;
    for (const key of ["stored", "duplicates", "rejected", "already_seen"]) field(key).textContent = job[key];
    field("done").textContent = job.synsets_done;
    field("status").textContent = job.status;
    field("error").textContent = job.error || "";
    const reasons = Object.entries(job.rejected_by_reason || {});
    if (reasons.length) rows(field("reasons"), reasons, false);
    const report = job.source_report || {};
    if (report.unmatched_count) {
      const one = report.unmatched_count === 1;
      field("unmatched").textContent = report.unmatched_count + (one ? " image names" : " images name") +
        " no synset of this job and " + (one ? "was" : "were") + " not collected.";
      const byWnid = Object.entries(report.unmatched_by_wnid || {});
      rows(field("unmatched-wnids"), byWnid, true);
      list(field("unmatched-examples"), report.unmatched_examples || []);
      field("unmatched-wnid-count").textContent = byWnid.length;
      const details = field("unmatched-details");
      if (details.hidden) {
        details.hidden = false;
        details.open = byWnid.length <= 10;  // a long list stays folded under its summary
      }
    } else if (Object.keys(report).length) {
      field("unmatched").textContent = "Every image named a synset of this job.";
    }
    if (report.refused_count) {
      field("refused").textContent = report.refused_count + " entries refused before download:";
      list(field("refused-examples"), (report.refused_examples || []).map((e) => e.where + ": " + e.why));
    }
    if (active.has(job.status)) setTimeout(poll, 1000);
    else if (field("cancel")) field("cancel").remove();
  }
  const cancel = field("cancel");
  if (cancel) {
    cancel.addEventListener("click", async () => {
      const token = root.querySelector("input[name=csrfmiddlewaretoken]").value;
      await fetch(root.dataset.cancelUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token } });
      cancel.disabled = true;
    });
  }
  setTimeout(poll, 500);
})();
