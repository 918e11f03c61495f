"""Candidates: the images that may show a synset — search queries, collection jobs over pluggable
sources, safe download, validation, thumbnails, duplicate removal and serving stored images. May
import synsets only."""
