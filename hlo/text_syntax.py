"""What the HLO text printer (printer.py) and parser (parser.py) agree on beyond the
grammar: attributes XLA leaves out, and the roles under which control flow names its
called computations.
"""

from __future__ import annotations


#: opcode -> attributes XLA leaves out when they have this value; the parser fills them in.
ATTR_DEFAULTS = {"convolution": {"feature_group_count": 1, "batch_group_count": 1},
                 "gather": {"indices_are_sorted": False},
                 "scatter": {"indices_are_sorted": False, "unique_indices": False},
                 "sort": {"is_stable": False}}

#: Attributes XLA leaves out when empty, which the parser defaults to ().
OMITTED_WHEN_EMPTY = frozenset(
    {"lhs_batch_dims", "lhs_contracting_dims", "rhs_batch_dims", "rhs_contracting_dims"})


#: Opcodes whose called computations have roles in the text: opcode -> the spellings the
#: parser accepts, each the role attributes in called-computation order. A role in
#: LIST_ROLES holds a braced list of computations, the others one computation each.
CALLEE_ROLES = {
    "while": (("condition", "body"),),
    "conditional": (("true_computation", "false_computation"), ("branch_computations",)),
}
LIST_ROLES = frozenset({"branch_computations"})
ROLE_NAMES = frozenset(r for spellings in CALLEE_ROLES.values() for s in spellings for r in s)
