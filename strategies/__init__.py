"""Generation strategies, each a plugin."""
