"""watchkeeper.monitor.scrape."""
