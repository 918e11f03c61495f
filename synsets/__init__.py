"""Synsets: WordNet 3.0 nouns (wnid = n + offset), their IS-A edges and closure table, lemmas in
several languages, subtree presets and the synset pages and API. The first stage: imports no
other app."""
