"""The MT5 bridge's way in: owner tokens, the checks, the stored buffer values, the route."""
