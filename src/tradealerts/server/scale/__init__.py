"""Scale-out: one engine (leader + standbys, fenced), many API processes, Redis Streams.

See docs/architecture.md, "Scale-out". Nothing here runs in the embedded default.
"""
