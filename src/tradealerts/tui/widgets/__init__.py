"""The TUI's widgets: the chart, the watchlist, the alert feed and the status bar."""
