"""Prepare the GPU check (tools/gpu_check.sh) on a development machine with TensorFlow:
compile every model of the zoo (tests/models.py) with --backend cuda and save its inputs
and TensorFlow's outputs as raw files, with a manifest, under OUT (build/gpu_check).

    .venv/bin/python tools/prepare_gpu_check.py [--out build/gpu_check] [--gpu_arch sm_75]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import aotc  # noqa: E402
from models import TEXT_VOCAB, model_zoo  # noqa: E402

#: Model -> (rtol, atol) against TensorFlow: f32 sums in another order (as the CPU tests).
TOLERANCES = {"mobilenet_v2": (1e-4, 1e-5), "resnet": (1e-4, 1e-4)}
DEFAULT_TOLERANCE = (1e-4, 1e-5)


def inputs_for(frozen, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, TEXT_VOCAB, shape).astype(dtype) if np.issubdtype(dtype, np.integer)
            else rng.standard_normal(shape).astype(dtype) for _, dtype, shape in frozen.feeds]


def prepare(out: Path, gpu_arch: str, batch: int, backend: str = "cuda",
            models: list[str] | None = None) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lines = []
    for name, make in model_zoo(batch).items():
        if models and name not in models:
            continue
        frozen = make()
        graph, config = frozen.write(out / "src" / name)
        cpp_class = "zoo::" + "".join(part.title() for part in name.split("_"))
        flags = {"gpu_arch": gpu_arch} if backend == "cuda" else {}
        aotc.compile(str(graph), str(config), out / name, backend=backend, cpp_class=cpp_class,
                     name=name, **flags)
        inputs = inputs_for(frozen)
        for i, x in enumerate(inputs):
            (out / name / f"input{i}.bin").write_bytes(np.ascontiguousarray(x).tobytes())
        for r, y in enumerate(frozen.reference(*inputs)):
            (out / name / f"expected{r}.bin").write_bytes(
                np.ascontiguousarray(y, dtype=np.float32).tobytes())
        rtol, atol = TOLERANCES.get(name, DEFAULT_TOLERANCE)
        lines.append(f"{name} {cpp_class} {rtol} {atol}")
        print(f"prepared {name}", flush=True)
    shutil.rmtree(out / "src")
    (out / "manifest.txt").write_text("\n".join(lines) + "\n")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {len(lines)} models, {size / 2**20:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "gpu_check")
    parser.add_argument("--gpu_arch", default="sm_75")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--backend", default="cuda",
                        help="cpu checks the check itself on a machine without a GPU")
    parser.add_argument("--models", nargs="*", choices=sorted(model_zoo()),
                        help="only these models (default: the whole zoo)")
    args = parser.parse_args()
    prepare(args.out, args.gpu_arch, args.batch, args.backend, args.models)


if __name__ == "__main__":
    main()
