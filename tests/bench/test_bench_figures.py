"""The benchmark's own arithmetic: import-time parsing, percentiles, targets, busy share."""

from __future__ import annotations

import math

from benchmarks.figure import Figure
from benchmarks.percentiles import p95
from benchmarks.sandbox import parse_importtime
from benchmarks.throughput import busy_share

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _json
import time:       400 |        500 | json
import time:      2000 |       2000 |     botocore.vendored
import time:      1000 |       3000 |   botocore
import time:       500 |       3500 | boto3
import time:       300 |        300 | portrait_fusion.handler
"""


def test_import_time_is_summed_by_top_level_package() -> None:
    totals = parse_importtime(IMPORTTIME, skip={"json"})
    assert totals == {"botocore": 3.0, "boto3": 0.5, "portrait_fusion": 0.3, "stdlib": 0.1}
    assert list(totals) == sorted(totals, key=lambda name: -totals[name])


def test_p95_is_the_nearest_rank() -> None:
    assert p95([float(v) for v in range(1, 101)]) == 95.0
    assert p95([3.0]) == 3.0
    assert math.isnan(p95([]))


def test_a_target_is_met_only_on_the_right_side_of_its_limit() -> None:
    assert Figure("warm", "ms", 30.0, 50.0, "<= 0.7x", 35.0).met is True
    assert Figure("warm", "ms", 40.0, 50.0, "<= 0.7x", 35.0).met is False
    assert Figure("flow", "pairs/s", 3.9, 3.0, ">= 95%", 3.8, at_least=True).met is True
    assert Figure("flow", "pairs/s", 3.7, 3.0, ">= 95%", 3.8, at_least=True).met is False
    assert Figure("info", "ms", 1.0, 2.0).met is None
    assert Figure("info", "ms", 1.0, 2.0).ratio == 0.5


def test_busy_share_leaves_out_the_ramp_up_and_the_tail() -> None:
    # ramp-up (0, 1), full use with one dip, then a tail with workers idle
    samples = [0, 1, 4, 4, 3, 4, 4, 2, 1, 0]
    assert busy_share(samples, cap=4) == (4 + 4 + 3 + 4 + 4) / 5 / 4
    assert busy_share([0, 1, 2], cap=4) == 0.0
