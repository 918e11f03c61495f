"""Exports: the accepted images of a project written as ImageNet folders or WebDataset shards,
from the command line or as a background job (docs/architecture.md). May import synsets,
candidates, labeling, consensus and crowds; only dashboards may import it."""
