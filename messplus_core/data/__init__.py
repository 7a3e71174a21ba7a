"""Data in and out of the library: the capture CSV schema (shared with the capture writer), its loader,
request embeddings and their cache, and the scenario streams built from loaded captures."""
