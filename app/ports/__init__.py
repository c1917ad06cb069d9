"""Ports: the protocols and value types through which the use cases meet the outside world."""
