"""aotc: backends. Code generators behind one contract (base.py), found by name in the
registry (registry.py). Importing this package registers every backend."""

from . import cpu  # noqa: F401  (registers "cpu")
from . import cuda  # noqa: F401  (registers "cuda")
