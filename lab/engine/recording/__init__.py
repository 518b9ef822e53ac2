"""What a run records: forward hooks and gradient reductions, the bounded history, model probes."""
