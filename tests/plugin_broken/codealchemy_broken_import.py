"""A plugin whose import fails (a dependency that is not installed)."""

import codealchemy_no_such_dependency  # noqa: F401
