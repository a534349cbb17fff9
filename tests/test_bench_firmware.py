"""The device-budget benchmark's harness: the core runs in a 64 KB MicroPython heap.

Not a timing test: the figures are printed by `repbelt bench firmware`; this
only checks that the run completes under the issue's heap cap and that the
steady state allocates (almost) nothing, so a core change that breaks
either fails here rather than in a README table.
"""
from repbelt import bench_firmware


def test_core_runs_in_64k_heap_and_allocates_nothing_per_sample():
    r = bench_firmware.run(minutes=2, heap="64K")
    assert r["ok"], r
    assert r["samples"] == 2 * 60 * bench_firmware.RATE_HZ and r["events"] > 10
    assert r["alloc_per_sample"] < 1.0          # bytes: fixed-point ints, no floats per sample
    assert r["peak_heap"] < 55 * 1024     # 54.8 KB (56,096 B) on 2026-12-08 (core as -O3 .mpy; +768 B this round: the hold sway's ring and its code): keeps 9 KB of the 64 KB free for fragmentation
