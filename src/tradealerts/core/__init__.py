"""Pure domain shared by the server and the client: no I/O here."""
