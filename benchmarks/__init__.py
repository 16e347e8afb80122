"""Benchmarks: scripts that time this codebase against a peer measured in the same run."""
