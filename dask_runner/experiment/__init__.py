"""The simulate and metrics jobs as Python functions (what the command line calls)."""
