"""Dashboards: the staff pages that read the whole pipeline — a project's funnel, tree, workers,
costs and exports — and the precision audit with its own models (Deng et al. 2009 §2,
"Accuracy"). The last stage: may import every other app; no app imports it."""
