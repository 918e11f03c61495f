"""Crowds: where HITs are published — the built-in crowd, link-based panels (Prolific-style) and
Amazon Mechanical Turk (closed 2026-09-30) — with their platform records, payments and costs
(docs/crowds.md). May import synsets, candidates, labeling and consensus; only exports and
dashboards may import it."""
