"""Pure analysis: text in, frozen dataclasses out; no I/O, no GitHub, no env."""
