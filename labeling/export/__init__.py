"""Dataset export: the ImageNet folder layout and WebDataset shards (product.md §1.7)."""

from labeling.export.writer import (
    ExportProgress,
    ExportRecord,
    ExportSummary,
    SynsetInfo,
    export_imagenet,
    export_webdataset,
)

__all__ = [
    "ExportProgress",
    "ExportRecord",
    "ExportSummary",
    "SynsetInfo",
    "export_imagenet",
    "export_webdataset",
]
