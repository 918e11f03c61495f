"""Pluggable candidate-image sources (Deng et al. 2009 §3.1): one module per adapter, all behind the
small ``ImageSource`` interface in ``base``; ``registry.build_source`` builds one by name."""

from .base import ConfigurationError, ImageSource, SourceError, SourceResult
from .registry import SOURCE_NAMES, build_source

__all__ = [
    "SOURCE_NAMES",
    "ConfigurationError",
    "ImageSource",
    "SourceError",
    "SourceResult",
    "build_source",
]
