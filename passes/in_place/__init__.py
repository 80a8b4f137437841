"""Which instructions may write their result over an operand's buffer (see sharing.py).

`sharing` holds the table and `can_share_buffer`; the family modules (loops, indexing)
register their rules on import, and this package imports them once.
"""

from . import indexing, loops  # noqa: F401  (register the rules)
from .loops import reaches_root_elementwise
from .sharing import SHARING_RULES, can_share_buffer

__all__ = ["SHARING_RULES", "can_share_buffer", "reaches_root_elementwise"]
