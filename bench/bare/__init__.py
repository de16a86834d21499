"""The baseline for bench_gate: a plain Django app with no tenancy, sessions or auth."""
