"""Execution runtimes: one folder per language (runtime.toml, Dockerfile)."""
