"""The CPU-by-feature measurement: which variants it runs, and how its table reads."""

from __future__ import annotations

import types

from benchmarks.by_feature import FEATURES, Variant, table, variants
from benchmarks.workload import HANDLERS


def test_each_feature_is_switched_off_alone_then_all_together_beside_the_baseline() -> None:
    bench = types.SimpleNamespace(env={"DAILY_CALL_BUDGET": "2000", "OTHER": "kept"})
    runs = variants(bench)  # type: ignore[arg-type]
    assert runs[0].label == "ours, every feature on"
    assert runs[0].env == bench.env
    for variant, (name, switch) in zip(runs[1:-2], FEATURES.items(), strict=True):
        assert variant.label.strip() == f"without {name}"
        assert variant.env == {**bench.env, **switch}
    every_switch = {k: v for switch in FEATURES.values() for k, v in switch.items()}
    assert runs[-2].env == {**bench.env, **every_switch}
    assert (runs[-1].handler, runs[-1].env) == (HANDLERS["baseline"], bench.env)


def test_the_table_says_what_switching_each_feature_off_saves() -> None:
    runs = [
        Variant("ours, every feature on", "h", {}, [30.0, 32.0, 31.0], [12, 12, 12]),
        Variant("  without tracing", "h", {}, [29.0], [12]),
        Variant("naive baseline", "b", {}, [15.0], [5]),
    ]
    lines = table(runs).splitlines()
    assert lines[1].split() == ["ours,", "every", "feature", "on", "31.0", "12"]
    assert lines[2].split() == ["without", "tracing", "29.0", "2.0", "12"]
    assert lines[3].split() == ["naive", "baseline", "15.0", "5"]
