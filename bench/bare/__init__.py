"""The baseline for bench_gate: the workspace list page's own code and template, with no stack."""
