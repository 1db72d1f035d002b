"""CodeAlchemy's tracer core: records, languages, instrumentation, backends, plugins, CLI."""

__version__ = "0.1.0"
