"""Computational cost of dense, HashedNets and MFH layers (`make bench`, scripts/bench.py).

cases: the model rows and layer cases, built by the harness; flops: analytic FLOPs and torch's
counter; measure: timing protocol and memory; report: CSV, Markdown, figure; bench: the run.
"""
