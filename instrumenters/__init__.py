"""One folder per language: language.toml, tree-sitter queries, rewrite.py, prelude/, tests."""
