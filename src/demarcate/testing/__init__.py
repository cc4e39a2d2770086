"""Boundary testing: probes, targets, the callback listener, the trace receiver, campaigns."""
