"""Benchmarks (TraceEval, DevEval), each a plugin."""
