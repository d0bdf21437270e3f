"""musl-check: will this Rust project's musl build break on musl 1.2.5?"""

__version__ = "0.1.0"
