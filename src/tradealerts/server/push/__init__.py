"""Push channels (issue #27): a user's named Apprise URLs, encrypted at rest (``vault``),
managed by ``store``, sent through ``send`` (a bounded thread pool, every name resolved and
checked by the SSRF guard) and delivered from the queue by ``sender``."""
