"""The hosted side: feeds, engine, API. Needs the ``tradealerts[server]`` extra."""
