"""WordNet 3.0 noun synsets, their IS-A edges, a closure table for fast subtree queries, and
per-language lemmas (docs/architecture.md §2)."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from config.models import TimeStampedModel


class Synset(TimeStampedModel):
    """A WordNet noun synset, named by its ImageNet wnid (``n`` + 8-digit offset)."""

    wnid = models.CharField(max_length=9, primary_key=True)
    lemmas = models.JSONField(default=list, help_text="English lemmas in WordNet order.")
    gloss = models.TextField(blank=True)
    lexname = models.CharField(max_length=32, blank=True)
    depth = models.PositiveSmallIntegerField(
        default=0, help_text="Length of the shortest IS-A path to the root (entity = 0)."
    )
    max_depth = models.PositiveSmallIntegerField(default=0)
    subtree_size = models.PositiveIntegerField(
        default=1, help_text="Number of synsets in the subtree, this one included."
    )

    class Meta:
        ordering = ["wnid"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(wnid__regex=r"^n[0-9]{8}$"), name="synset_wnid_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.wnid} {self.name}"

    @property
    def name(self) -> str:
        return self.lemmas[0] if self.lemmas else self.wnid

    @property
    def offset(self) -> int:
        return int(self.wnid[1:])

    @property
    def wikipedia_url(self) -> str:
        """Wikipedia's "Go" search: it opens the article (or the page a redirect names) when one
        has this title, and lists search results only when none has."""
        from urllib.parse import urlencode

        title = self.name.replace("_", " ")
        return "https://en.wikipedia.org/wiki/Special:Search?" + urlencode(
            {"search": title, "go": "Go"}
        )

    def get_absolute_url(self) -> str:
        return reverse("synsets:detail", args=[self.wnid])


class SynsetEdge(models.Model):
    """One IS-A edge; WordNet's noun hierarchy is a DAG (a synset may have several parents)."""

    class Kind(models.TextChoices):
        HYPERNYM = "hypernym", "hypernym"
        INSTANCE_HYPERNYM = "instance_hypernym", "instance hypernym"

    # No single-column indexes of their own: the unique (parent, child) index serves lookups by
    # parent, synset_edge_by_child those by child (the import rebuilds every index it keeps).
    parent = models.ForeignKey(
        Synset, on_delete=models.CASCADE, related_name="child_edges", db_index=False
    )
    child = models.ForeignKey(
        Synset, on_delete=models.CASCADE, related_name="parent_edges", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta:
        ordering = ["parent_id", "child_id"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="synset_edge_unique"),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("child")), name="synset_edge_not_self"
            ),
        ]
        indexes = [models.Index(fields=["child"], name="synset_edge_by_child")]

    def __str__(self) -> str:
        return f"{self.parent_id} → {self.child_id} ({self.kind})"


class SynsetClosure(models.Model):
    """Transitive closure of IS-A (self pairs at distance 0 included), one row per
    ancestor/descendant pair whatever the number of paths: subtree and ancestor queries are one
    indexed lookup instead of a recursive walk."""

    # 825,356 rows: the unique (ancestor, descendant) index serves subtree lookups and
    # synset_closure_ancestors ancestor lookups; single-column copies of them (and their
    # pattern-ops twins) only cost the import time and disk.
    ancestor = models.ForeignKey(Synset, on_delete=models.CASCADE, related_name="+", db_index=False)
    descendant = models.ForeignKey(
        Synset, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    distance = models.PositiveSmallIntegerField(help_text="Shortest number of IS-A steps.")

    class Meta:
        ordering = ["ancestor_id", "distance"]
        constraints = [
            models.UniqueConstraint(
                fields=["ancestor", "descendant"], name="synset_closure_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["descendant", "distance"], name="synset_closure_ancestors"),
        ]

    def __str__(self) -> str:
        return f"{self.ancestor_id} ⊇ {self.descendant_id} ({self.distance})"


class SynsetLemma(models.Model):
    """A lemma of a synset in one language (``eng`` from WordNet, others from OMW); serves lemma
    search and the candidate queries' translations."""

    # Lookups by synset use the unique (synset, language, lemma) index.
    synset = models.ForeignKey(
        Synset, on_delete=models.CASCADE, related_name="lemma_rows", db_index=False
    )
    language = models.CharField(max_length=8)
    lemma = models.CharField(max_length=255)
    lemma_folded = models.CharField(max_length=255, help_text="Case-folded lemma for search.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["synset_id", "language", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["synset", "language", "lemma"], name="synset_lemma_unique"
            ),
        ]
        indexes = [
            # Prefix search (LIKE 'dog%') needs pattern ops on PostgreSQL; ignored elsewhere.
            models.Index(
                fields=["lemma_folded"],
                name="synset_lemma_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.language}:{self.lemma}"


class WordNetImport(models.Model):
    """A finished import: a fingerprint of the files it read and the rows the four tables held
    after it. A re-run over the same files, while the tables still hold those rows, has nothing
    to compare (``import_wordnet --force`` compares every row anyway)."""

    fingerprint = models.CharField(max_length=64)
    synsets = models.PositiveIntegerField()
    edges = models.PositiveIntegerField()
    closure = models.PositiveIntegerField()
    lemmas = models.PositiveIntegerField()
    finished_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-finished_at", "-id"]

    def __str__(self) -> str:
        return f"WordNet import {self.finished_at:%Y-%m-%d %H:%M} ({self.synsets} synsets)"

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in ("synsets", "edges", "closure", "lemmas")}
