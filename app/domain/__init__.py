"""The domain: aggregates, their events and their errors. No I/O, no clock, no framework."""
