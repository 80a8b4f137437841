"""TF1 while loops (Enter/Merge/Switch/Exit/NextIteration/LoopCond frames) -> While nodes.

Every node belongs to a frame: an Enter's output is in the frame it names, whose parent
is its input's frame; an Exit's output is in the parent of its input's frame; any other
node is in the deepest frame among its inputs' (the root frame, '', when it has none).
Frames are turned into While nodes deepest first, so an inner loop is already a single
While node of its enclosing frame when that frame is cut out.

For one frame, loop variable k is an Enter: a loop-invariant one (is_constant) is an arg
the body returns unchanged; another has a Merge (fed by the Enter and a NextIteration), a
Switch on the LoopCond and maybe an Exit. The cond function computes LoopCond's input
from the Merges (arg k); the body computes every NextIteration's input from the Switches'
true outputs (arg k). The body then has its conds functionalized like any graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import GraphError
from .functionalize_cond import functionalize_conds
from .functionalize_graph import (
    ENTER_OPS,
    EXIT_OPS,
    MERGE_OPS,
    NEXT_ITERATION_OPS,
    SWITCH_OPS,
    Graph,
    Region,
    arg_name,
    data_inputs,
    dtype_of,
    func_attr,
    make_function,
    parse_input,
    type_list_attr,
)
from .proto import aotc_types_pb2
from .prune import TensorRef

__all__ = ["functionalize_loops", "loop_frames"]


def functionalize_loops(graph: Graph) -> None:
    """Replace every loop frame of `graph` by a While node, innermost first."""
    frames = _Frames(graph)
    for frame in sorted(frames.parent, key=frames.depth, reverse=True):
        loop = _Loop(graph, frames, frame)
        while_name = loop.replace()
        # The While runs in the enclosing frame; nothing else moves.
        for name in loop.members:
            del frames.of[name]
        frames.of[while_name] = frames.parent[frame]


def loop_frames(graph: Graph) -> dict[str, str]:
    """node name -> the name of the loop frame it runs in ('' outside every loop)."""
    return _Frames(graph).of


class _Frames:
    """The frame of every node, and each frame's parent."""

    def __init__(self, graph: Graph):
        self.parent: dict[str, str] = {}
        self.of: dict[str, str] = {}

        def back_edge(node, producer: str) -> bool:
            return node.op in MERGE_OPS and graph.nodes[producer].op in NEXT_ITERATION_OPS

        for node in graph.ordered(back_edge):
            inputs = [parse_input(t)[0].node_name for t in node.input]
            frames = [self.of[p] for p in inputs if p in self.of]
            inner = max(frames, key=self.depth, default="")
            if node.op in ENTER_OPS:
                frame = node.attr["frame_name"].s.decode()
                if not frame:
                    raise GraphError(f"node '{node.name}' ({node.op}) has no frame_name")
                if self.parent.setdefault(frame, inner) != inner:
                    raise GraphError(f"node '{node.name}' ({node.op}) enters frame '{frame}' "
                                     f"from frame '{inner}', but other Enters of that frame "
                                     f"come from '{self.parent[frame]}'")
                self.of[node.name] = frame
            elif node.op in EXIT_OPS:
                if not inner:
                    raise GraphError(f"node '{node.name}' ({node.op}) is not inside a loop")
                self.of[node.name] = self.parent[inner]
            else:
                self.of[node.name] = inner

    def depth(self, frame: str) -> int:
        depth = 0
        while frame:
            frame, depth = self.parent[frame], depth + 1
        return depth


@dataclass
class _Var:
    """One loop variable: its Enter and, unless loop-invariant, its Merge, Switch, Exit
    and NextIteration."""

    enter: object
    merge: object = None
    switch: object = None
    exit: object = None
    next_iteration: object = None

    @property
    def invariant(self) -> bool:
        return self.merge is None


@dataclass
class _Loop:
    graph: Graph
    frames: _Frames
    frame: str
    members: list[str] = field(init=False)
    vars: list[_Var] = field(init=False)

    def __post_init__(self):
        self.members = [n for n in self.graph.nodes if self.frames.of.get(n) == self.frame]
        users = self.graph.consumers()
        nodes = [self.graph.nodes[n] for n in self.members]
        self.vars = [self._var(e, users) for e in nodes if e.op in ENTER_OPS]
        conds = [n for n in nodes if n.op == "LoopCond"]
        if len(conds) != 1:
            raise GraphError(f"loop '{self.frame}' has {len(conds)} LoopCond nodes, expected "
                             "one; aotc cannot turn it into a While")
        self.loop_cond = conds[0]

    def _var(self, enter, users) -> _Var:
        var = _Var(enter)
        if enter.attr["is_constant"].b:
            return var
        merges = [u for u, _, control in users[enter.name] if u.op in MERGE_OPS and not control]
        if len(merges) != 1:
            raise GraphError(f"loop variable '{enter.name}' (Enter) of loop '{self.frame}' "
                             f"feeds {len(merges)} Merge nodes, expected one")
        var.merge = merges[0]
        for text in data_inputs(var.merge):
            producer = self.graph.nodes.get(parse_input(text)[0].node_name)
            if producer is not None and producer.op in NEXT_ITERATION_OPS:
                var.next_iteration = producer
        if var.next_iteration is None:
            raise GraphError(f"node '{var.merge.name}' (Merge) of loop '{self.frame}' has no "
                             "NextIteration input")
        switches = [u for u, k, c in users[var.merge.name]
                    if u.op in SWITCH_OPS and not c and k == 0]
        if len(switches) > 1:
            raise GraphError(f"node '{var.merge.name}' (Merge) of loop '{self.frame}' feeds "
                             f"{len(switches)} Switch nodes, expected one")
        var.switch = switches[0] if switches else None
        if var.switch is not None:
            exits = [u for u, k, c in users[var.switch.name]
                     if u.op in EXIT_OPS and not c and k == 0]
            var.exit = exits[0] if exits else None
        return var

    def _structure(self) -> set[str]:
        names = {self.loop_cond.name}
        for var in self.vars:
            names |= {n.name for n in (var.enter, var.merge, var.switch, var.next_iteration)
                      if n is not None}
        return names

    @property
    def name(self) -> str:
        return self.frame.removesuffix("/while_context") or "while"

    def replace(self) -> str:
        """Cut the cond and body out, add their functions, put a While node in place;
        returns the While's name."""
        graph, frame = self.graph, self.frame
        cond_boundary: dict[TensorRef, int] = {}
        body_boundary: dict[TensorRef, int] = {}
        for k, var in enumerate(self.vars):
            if var.invariant:
                cond_boundary[TensorRef(var.enter.name, 0)] = k
                body_boundary[TensorRef(var.enter.name, 0)] = k
            else:
                cond_boundary[TensorRef(var.merge.name, 0)] = k
                body_boundary[TensorRef(var.merge.name, 0)] = k
                if var.switch is not None:
                    body_boundary[TensorRef(var.switch.name, 1)] = k
        structure = self._structure()
        inside = lambda node: self.frames.of.get(node.name) == frame  # noqa: E731
        stops = lambda node: node.name in structure  # noqa: E731
        cond = Region(graph, data_inputs(self.loop_cond)[:1], cond_boundary, inside, stops)
        body_roots = [data_inputs(v.next_iteration)[0] for v in self.vars if not v.invariant]
        body = Region(graph, body_roots, body_boundary, inside, stops)

        captured: dict[TensorRef, int] = {}
        for ref in cond.captured + body.captured:
            captured.setdefault(ref, len(self.vars) + len(captured))
        types = [v.enter.attr["T"].type for v in self.vars]
        types += [dtype_of(graph, ref) for ref in captured]

        cond_graph = cond.body(captured)
        functionalize_conds(cond_graph)  # a cond or body may hold conds
        cond_fn = make_function(graph, cond_graph, f"{self.name}_cond", types,
                                [cond.rewrite(data_inputs(self.loop_cond)[0], captured)],
                                [aotc_types_pb2.DT_BOOL])
        body_graph = body.body(captured)
        functionalize_conds(body_graph)
        rets = [arg_name(k) if v.invariant
                else body.rewrite(data_inputs(v.next_iteration)[0], captured)
                for k, v in enumerate(self.vars)]
        rets += [arg_name(k) for k in captured.values()]
        body_fn = make_function(graph, body_graph, f"{self.name}_body", types, rets, types)

        while_name = graph.unique_node_name(f"{self.name}/While")
        inputs = [data_inputs(v.enter)[0] for v in self.vars] + [str(r) for r in captured]
        controls = sorted({t for v in self.vars for t in v.enter.input if t.startswith("^")
                           and self.frames.of.get(t[1:]) != frame})
        attrs = {"T": type_list_attr(types), "cond": func_attr(cond_fn), "body": func_attr(body_fn)}
        graph.add(while_name, "While", inputs + controls, attrs)
        for k, var in enumerate(self.vars):
            if var.exit is not None:
                graph.replace_with_identity(var.exit.name, f"{while_name}:{k}")
        graph.remove(self.members, replaced_by=while_name)
        return while_name
