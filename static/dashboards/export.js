/* Live progress of export jobs: poll each unfinished job's JSON status until it is done. */
(function () {
  "use strict";
  const ACTIVE = new Set(["pending", "running"]);
  function poll(row) {
    fetch(row.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((job) => {
        if (!job) return;
        row.dataset.status = job.status;
        row.querySelector("progress").value = job.progress;
        row.querySelector(".job-text").textContent =
          job.status + " · " + job.classes_done + "/" + job.classes_total + " classes · " + job.images_done + " images";
        const result = row.querySelector(".job-result");
        if (job.download_url) {
          const link = document.createElement("a");
          link.href = job.download_url;
          link.textContent = "Download .tar";
          result.replaceChildren(link);
        } else if (job.status === "failed") {
          const span = document.createElement("span");
          span.className = "error";
          span.textContent = job.error;
          result.replaceChildren(span);
        }
        if (ACTIVE.has(job.status)) setTimeout(() => poll(row), 1500);
      })
      .catch(() => setTimeout(() => poll(row), 5000));
  }
  document.querySelectorAll("tr.export-job").forEach((row) => {
    if (ACTIVE.has(row.dataset.status)) poll(row);
  });
})();
