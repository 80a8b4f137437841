"""The exceptions that mean "the user's input is wrong", as opposed to a bug in aotc.

Each stage raises its own error type with a message naming the node, op, feed, file or flag
at fault; the CLI prints the message and exits with status 1 for exactly these.
"""

from aotc.backends.base import BackendOptionError
from aotc.frontend.errors import FrontendError
from aotc.passes.complex_expansion import ComplexExpansionError

from .options import OptionError


class ArtifactError(RuntimeError):
    """The artifact could not be written or linked (unwritable directory, no C compiler)."""


USER_ERRORS = (FrontendError, OptionError, BackendOptionError, ArtifactError, OSError,
               ComplexExpansionError)
