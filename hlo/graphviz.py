"""`to_graphviz`: a computation drawn as Graphviz DOT text, for `--dump-hlo`."""

from __future__ import annotations

from .ir import Computation, Instruction


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _DotWriter:
    """Emits DOT nodes and edges; fusions become clusters around their fused computation."""

    def __init__(self):
        self.lines: list[str] = []
        self.ids: dict[int, str] = {}

    def node_id(self, inst: Instruction) -> str:
        return self.ids.setdefault(id(inst), f"n{len(self.ids)}")

    def computation(self, comp: Computation, indent: str) -> None:
        for inst in comp.instructions:
            if inst.opcode == "fusion" and inst.called_computations:
                self.fusion(inst, indent)
            else:
                self.node(inst, comp, indent)
        for inst in comp.instructions:
            fused = inst.called_computations[0] if inst.opcode == "fusion" and \
                inst.called_computations else None
            for k, op in enumerate(inst.operands):
                target = inst
                if fused is not None:  # into the fused parameter the operand feeds
                    target = next((p for p in fused.parameters
                                   if p.attrs.get("parameter_number") == k), inst)
                self.lines.append(f"{indent}{self.node_id(op)} -> {self.node_id(target)};")

    def node(self, inst: Instruction, comp: Computation, indent: str) -> None:
        label = f"{inst.name}\n{inst.opcode}\n{inst.shape}"
        style = ", style=bold" if inst is comp.root else ""
        self.lines.append(f"{indent}{self.node_id(inst)} [label={_dot_quote(label)}{style}];")

    def fusion(self, inst: Instruction, indent: str) -> None:
        fused = inst.called_computations[0]
        self.lines.append(f"{indent}subgraph cluster_{self.node_id(inst)} {{")
        inner = indent + "  "
        title = f"{inst.name} ({inst.attrs.get('kind', 'fusion')})"
        self.lines.append(f"{inner}label={_dot_quote(title)};")
        self.lines.append(f"{inner}style=rounded;")
        self.computation(fused, inner)
        label = f"{inst.name}\nfusion\n{inst.shape}"
        self.lines.append(f"{inner}{self.node_id(inst)} [label={_dot_quote(label)}, shape=box3d];")
        if fused.root is not None:
            self.lines.append(f"{inner}{self.node_id(fused.root)} -> {self.node_id(inst)} "
                              f"[style=dashed];")
        self.lines.append(f"{indent}}}")


def to_graphviz(computation: Computation) -> str:
    """DOT text drawing `computation`: a node per instruction (name, opcode, shape), edges
    from operands to users, each fusion as a cluster holding its fused computation."""
    writer = _DotWriter()
    writer.lines.append(f"digraph {_dot_quote(computation.name)} {{")
    writer.lines.append('  node [shape=box, fontname="monospace"];')
    writer.computation(computation, "  ")
    writer.lines.append("}")
    return "\n".join(writer.lines) + "\n"
