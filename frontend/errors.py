"""User-facing errors of the frontend.

Every problem with the user's input (the graph file, the Config, the graph itself) is
raised as a `FrontendError`. The CLI prints `str(error)` and exits with status 1, so the
message alone must tell the user what is wrong and where: it names the file, node, op,
feed or fetch at fault and, where there is an obvious fix, says what it is. Bugs in aotc
itself are ordinary Python exceptions and are not caught.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence


class FrontendError(Exception):
    """A problem with the user's graph or Config, described in one self-contained message."""


class GraphFileError(FrontendError):
    """A graph or Config file is missing, unreadable, or not a proto of the expected kind."""


class ConfigError(FrontendError):
    """The Config is inconsistent with itself or with the graph (feeds, fetches, variables)."""


class GraphError(FrontendError):
    """The graph is malformed where the fetches need it (dangling inputs, cycles, ...)."""


class FunctionNode(NamedTuple):
    """A node inside a function body (a tf.function, a Defun, a loop or branch body)."""

    function: str
    node: str


class UnsupportedOpsError(FrontendError):
    """The graph uses op types aotc cannot lower.

    Raised once for the whole graph so the user sees every missing op at once instead of
    fixing them one compile at a time.

    Attributes:
        ops: op type -> the nodes using it: names of top-level nodes, and `FunctionNode`s
            for nodes inside functions (printed "'node' in function 'f'"); sorted, the
            top level first.
        reasons: optional op type -> a short note (e.g. "string tensors are not
            supported"), printed next to the op type.
    """

    #: How many node names to print per op type before summarizing the rest.
    MAX_NODES_LISTED = 5

    def __init__(
        self,
        ops: Mapping[str, Sequence[str]],
        reasons: Mapping[str, str] | None = None,
    ):
        self.ops = {op: sorted(nodes, key=_location_key) for op, nodes in sorted(ops.items())}
        self.reasons = dict(reasons or {})
        super().__init__(self._format())

    def _format(self) -> str:
        count = len(self.ops)
        lines = [
            f"the graph uses {count} op type{'s' if count != 1 else ''} that aotc "
            "cannot compile:"
        ]
        for op, nodes in self.ops.items():
            shown = ", ".join(_describe(n) for n in nodes[: self.MAX_NODES_LISTED])
            extra = len(nodes) - self.MAX_NODES_LISTED
            if extra > 0:
                shown += f" and {extra} more"
            reason = f" ({self.reasons[op]})" if op in self.reasons else ""
            lines.append(f"  {op}{reason}: {shown}")
        return "\n".join(lines)


def _location_key(entry) -> tuple[str, str]:
    return (entry.function, entry.node) if isinstance(entry, FunctionNode) else ("", entry)


def _describe(entry) -> str:
    if isinstance(entry, FunctionNode):
        return f"'{entry.node}' in function '{entry.function}'"
    return repr(entry)
