"""aotc: backends. Code generators behind one contract (base.py), found by name in the
registry (registry.py), which imports the built-in backends on its first query: importing
this package (for the contract's types, say) loads no code generator and no LLVM."""
