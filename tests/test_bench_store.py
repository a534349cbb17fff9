"""The store benchmark runs and prints its figures (tiny size here; the real run is a year)."""
import re

from repbelt import bench_store


def test_bench_store_prints_figures(capsys, tmp_path):
    assert bench_store.main(["--days", "3", "--batch", "25", "--db", str(tmp_path / "b.db")]) == 0
    out = capsys.readouterr().out
    m = re.search(r"stored (\d+) events in 3 sessions: (\d+) events/s", out)
    assert m and int(m.group(1)) > 1500 and int(m.group(2)) > 0
    assert re.search(r"report for 3 days: [0-9.]+ s", out)
    from repbelt.store import Store
    with Store.open(tmp_path / "b.db") as st:
        assert st.count("events") == int(m.group(1))
        assert st.count("sets") == 3 * 16 and st.count("holds") == 3 * 7 and st.count("walks") == 3
