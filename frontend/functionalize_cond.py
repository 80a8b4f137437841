"""TF1 conditionals (Switch/Merge) -> If nodes.

Each node gets a branch state: the (predicate, branch) pairs it runs under. A Switch's
output k adds (its predicate, k == 1) to its input's state; a Merge keeps what its inputs
share, and the predicate they disagree on is the one it merges; any other node unites its
inputs' states (data and control edges: tf.cond pins a branch's constants to the branch
with a control edge). A predicate is the tensor a Switch's second input reads, past
Identity nodes (tf.cond switches its inputs on an Identity of the pivot's predicate).

The Merges with the deepest state that merge one predicate (and do not feed one another)
form one conditional: each
branch is cut out by walking back from the Merges' inputs of that branch, stopping at
the Switches of the predicate (whose data inputs become the If's inputs) and at nodes
that do not run in the branch (constants are copied in, other values captured as extra
inputs). Then the next innermost one, until no Merge is left.
"""

from __future__ import annotations

from .errors import GraphError
from .functionalize_graph import (
    MERGE_OPS,
    SWITCH_OPS,
    Graph,
    Region,
    data_inputs,
    dtype_of,
    func_attr,
    make_function,
    parse_input,
    type_attr,
    type_list_attr,
)
from .proto import aotc_types_pb2
from .prune import TensorRef

__all__ = ["functionalize_conds"]

State = frozenset  # of (predicate TensorRef, branch bool)


def functionalize_conds(graph: Graph) -> None:
    """Replace every Switch/Merge conditional of the loop-free `graph` by an If node."""
    while True:
        states = _States(graph)
        found = states.innermost()
        if found is None:
            return
        _replace(graph, states, *found)


class _States:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.of: dict[str, State] = {}
        self.merged: dict[str, TensorRef] = {}  # Merge -> the predicate it merges
        self.order = graph.ordered()
        for node in self.order:
            states = []
            for text in node.input:
                ref, control = parse_input(text)
                if ref.node_name in self.of:
                    states.append(self.output(ref, control))
            if node.op in MERGE_OPS:
                self.of[node.name] = self._merge(node, states)
            else:
                self.of[node.name] = self._union(node, states)

    def predicate(self, switch) -> TensorRef:
        """The tensor `switch` tests, past Identity nodes."""
        ref = parse_input(data_inputs(switch)[1])[0]
        node = self.graph.nodes.get(ref.node_name)
        while node is not None and node.op == "Identity" and data_inputs(node):
            ref = parse_input(data_inputs(node)[0])[0]
            node = self.graph.nodes.get(ref.node_name)
        return ref

    def output(self, ref: TensorRef, control: bool = False) -> State:
        """The state of tensor `ref` (a Switch output adds its branch)."""
        node = self.graph.nodes[ref.node_name]
        state = self.of[ref.node_name]
        if node.op in SWITCH_OPS and not control:
            state = state | {(self.predicate(node), ref.output_index == 1)}
        return state

    def _union(self, node, states: list[State]) -> State:
        state = frozenset().union(*states)
        both = {p for p, b in state if (p, not b) in state}
        if both:
            raise GraphError(f"node '{node.name}' ({node.op}) uses values from both branches "
                             f"of the cond on '{min(both)}' without a Merge")
        return state

    def _merge(self, node, states: list[State]) -> State:
        if not states:
            return frozenset()
        shared = frozenset.intersection(*states)
        pairs = frozenset().union(*states)
        conflicts = {p for p, b in pairs if (p, not b) in pairs}
        if len(conflicts) == 1:
            self.merged[node.name] = next(iter(conflicts))
        elif conflicts:
            raise GraphError(f"node '{node.name}' ({node.op}) merges the branches of "
                             f"{len(conflicts)} conds at once; aotc cannot turn it into an If")
        return shared

    def innermost(self):
        """(predicate, outer state, Merges) of the most deeply nested cond, or None.

        Merges of one predicate and state may come from several tf.cond calls (a model
        testing `is_training` in every layer); those that depend on none of the others
        become one If now, the rest later, so no If feeds itself."""
        groups: dict[tuple, list] = {}
        for name, predicate in self.merged.items():
            if name in self.graph.nodes:
                groups.setdefault((predicate, self.of[name]), []).append(self.graph.nodes[name])
        if not groups:
            return None
        (predicate, outer), merges = max(groups.items(), key=lambda item: len(item[0][1]))
        return predicate, outer, self._first_layer(merges)

    def _first_layer(self, merges: list) -> list:
        """The Merges among `merges` that no other one of them feeds, even indirectly."""
        bit = {m.name: 1 << k for k, m in enumerate(merges)}
        above: dict[str, int] = {}  # node -> the Merges of `merges` upstream of it
        for node in self.order:
            mask = 0
            for text in node.input:
                producer = parse_input(text)[0].node_name
                mask |= above.get(producer, 0) | bit.get(producer, 0)
            above[node.name] = mask
        return [m for m in merges if not above[m.name]]


def _replace(graph: Graph, states: _States, predicate: TensorRef, outer: State,
             merges: list) -> None:
    roots = {True: [], False: []}
    for merge in merges:
        inputs = data_inputs(merge)
        branches = [(predicate, True) in states.output(parse_input(t)[0]) for t in inputs]
        if len(inputs) != 2 or sorted(branches) != [False, True]:
            raise GraphError(f"node '{merge.name}' ({merge.op}) does not merge one value from "
                             f"each branch of the cond on '{predicate}'")
        for text, branch in zip(inputs, branches):
            roots[branch].append(text)
    switches = [n for n in graph.nodes.values() if n.op in SWITCH_OPS
                and states.predicate(n) == predicate
                and all(p != predicate for p, _ in states.of[n.name])]
    switch_names = {s.name for s in switches}

    def regions(used: list) -> dict[bool, Region]:
        out = {}
        for branch in (True, False):
            boundary = {TensorRef(s.name, int(branch)): k for k, s in enumerate(used)}
            out[branch] = Region(graph, roots[branch], boundary,
                                 lambda node, b=branch: (predicate, b) in states.of[node.name],
                                 lambda node: node.name in switch_names)
        return out

    # Walk once to learn which Switches the branches read, then again with just those.
    trial = regions(switches)
    read = {ref.node_name for r in trial.values() for ref in r.used}
    used = [s for s in switches if s.name in read]
    branches = regions(used)

    captured: dict[TensorRef, int] = {}
    for ref in branches[True].captured + branches[False].captured:
        captured.setdefault(ref, len(used) + len(captured))
    types = [s.attr["T"].type for s in used] + [dtype_of(graph, r) for r in captured]
    out_types = [m.attr["T"].type for m in merges]
    base = merges[0].name.rpartition("/")[0] or "cond"
    functions = {}
    for branch, label in ((True, "true"), (False, "false")):  # TF2's names for branches
        region = branches[branch]
        rets = [region.rewrite(t, captured) for t in roots[branch]]
        functions[branch] = make_function(graph, region.body(captured), f"{base}_{label}",
                                          types, rets, out_types)

    name = graph.unique_node_name(f"{base}/If")
    inputs = [str(predicate)] + [data_inputs(s)[0] for s in used] + [str(r) for r in captured]
    attrs = {"Tcond": type_attr(aotc_types_pb2.DT_BOOL), "Tin": type_list_attr(types),
             "Tout": type_list_attr(out_types), "then_branch": func_attr(functions[True]),
             "else_branch": func_attr(functions[False])}
    graph.add(name, "If", inputs, attrs)
    for k, merge in enumerate(merges):
        graph.replace_with_identity(merge.name, f"{name}:{k}")
    removed = set(branches[True].members) | set(branches[False].members)
    users = graph.consumers()
    gone = lambda node: all(u.name in removed for u, _, _ in users[node.name])  # noqa: E731
    for switch in switches:
        if gone(switch):
            removed.add(switch.name)
            # tf.cond's Identity of the predicate (pred_id) only fed the Switches.
            node = graph.nodes.get(parse_input(data_inputs(switch)[1])[0].node_name)
            while node is not None and node.op == "Identity" and gone(node):
                removed.add(node.name)
                node = graph.nodes.get(parse_input(data_inputs(node)[0])[0].node_name)
    graph.remove(removed, replaced_by=name)
