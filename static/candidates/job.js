// Live progress of a collection job: polls the job API every second while it is active.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const field = (name) => document.getElementById("job-" + name);
  const active = new Set(["pending", "running", "cancelling"]);
  async function poll() {
    const response = await fetch(root.dataset.url, { credentials: "same-origin" });
    if (!response.ok) return setTimeout(poll, 3000);
    const job = await response.json();
    field("progress").value = job.synsets_done;
    for (const key of ["stored", "duplicates", "rejected"]) field(key).textContent = job[key];
    field("done").textContent = job.synsets_done;
    field("status").textContent = job.status;
    field("error").textContent = job.error || "";
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
