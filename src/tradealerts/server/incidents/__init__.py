"""Owner alerts (issue #29): conditions checked in the engine's process, each one incident
(opened once, reminded, closed with a "recovered" message), stored and mailed to the owner."""
