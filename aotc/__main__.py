"""`python -m aotc` and the `aotc` console script: this process is the command."""

import os


def run() -> None:
    """Run the `aotc` command line; ends the process with its exit status."""
    # A compile does no big linear algebra, while OpenBLAS's thread pool, started when
    # NumPy is imported, spins on the core the LLVM workers want (~50 ms of CPU per
    # compile). Set before NumPy's import; a user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from .cli import main

    main()


if __name__ == "__main__":
    run()
