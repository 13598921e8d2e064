"""HTTP routes, one router per resource, all under /api."""
