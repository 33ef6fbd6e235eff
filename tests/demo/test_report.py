"""The demo report's chart explains the gate: per version the win rate with its lower bound
and the win rate to beat, the golden mean with its floor and regression limit; and the data
behind it carries those figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib import pyplot as plt

from tuneloop.demo.report import draw_chart, render_markdown, write_report
from tuneloop.demo.summary import DemoSummary, GateLines, ModelRow

LINES = GateLines(null_win_rate=0.5, significance=0.05, golden_floor=0.4, golden_tolerance=0.02)


def _summary() -> DemoSummary:
    # v1 and v2 share a golden mean; only the win rate shows why v2 was promoted.
    return DemoSummary(
        models=[
            ModelRow("base", "gpt-4.1-nano", 0.39, outcome="served first"),
            ModelRow(
                "v1", "ft:a", 0.526, 0.682, 0.614, "promote", "promoted", "", 1.5e-5, 0.39, LINES
            ),
            ModelRow(
                "v2", "ft:b", 0.526, 0.582, 0.536, "promote", "promoted", "", 0.002, 0.526, LINES
            ),
            ModelRow(
                "v3", "ft:c", 0.353, 0.307, 0.246, "reject", "rejected", "", 1.0, 0.526, LINES
            ),
        ]
    )


def _segments(axes: object) -> list[tuple[float, float, float, float]]:
    """(x0, x1, y0, y1) of every line segment drawn as a collection (hlines, error bars)."""
    found = []
    for collection in axes.collections:  # type: ignore[attr-defined]
        for path in collection.get_segments():
            (x0, y0), (x1, y1) = path[0], path[-1]
            found.append((round(x0, 3), round(x1, 3), round(y0, 3), round(y1, 3)))
    return found


def test_the_chart_shows_win_rates_bounds_and_the_gates_lines() -> None:
    figure = draw_chart(_summary())
    try:
        rates, golden = figure.axes
        assert [t.get_text() for t in rates.get_xticklabels()] == ["v1", "v2", "v3"]
        assert [round(b.get_height(), 3) for b in rates.patches] == [0.682, 0.582, 0.307]
        segments = _segments(rates)
        # Whiskers from each win rate down to its lower bound.
        for x, (rate, bound) in enumerate([(0.682, 0.614), (0.582, 0.536), (0.307, 0.246)]):
            assert (x, x, bound, rate) in segments
        # The win rate the sign test must beat, over each version's bar.
        assert [s for s in segments if s[2] == s[3] == 0.5] == [
            (-0.4, 0.4, 0.5, 0.5),
            (0.6, 1.4, 0.5, 0.5),
            (1.6, 2.4, 0.5, 0.5),
        ]
        assert "p = 0.002" in [t.get_text().split("\n")[-1] for t in rates.texts]

        assert [round(b.get_height(), 3) for b in golden.patches] == [0.39, 0.526, 0.526, 0.353]
        lines = _segments(golden)
        assert (0.6, 1.4, 0.4, 0.4) in lines  # v1's floor
        assert (1.6, 2.4, 0.506, 0.506) in lines  # v2: v1's golden mean less the tolerance
        assert not [s for s in lines if s[0] < 0.5]  # the base model faced no gate
    finally:
        plt.close(figure)


def test_the_report_writes_the_chart_and_the_figures_behind_it(tmp_path: Path) -> None:
    summary = _summary()
    report, chart = write_report(summary, tmp_path / "out" / "demo.md")
    assert chart.read_bytes().startswith(b"\x89PNG")
    text = report.read_text()
    assert "| v2 | `ft:b` | 0.526 | 0.582 | 0.536 | 0.002 | beat 0.5 at p < 0.05;" in text
    assert f"]({chart.name})" in text
    v2 = summary.as_dict()["models"][2]
    assert (v2["win_rate"], v2["win_rate_lower_bound"], v2["p_value"]) == (0.582, 0.536, 0.002)
    assert v2["thresholds"] == {
        "null_win_rate": 0.5,
        "significance": 0.05,
        "golden_floor": 0.4,
        "golden_tolerance": 0.02,
    }
    assert "![" not in render_markdown(summary, None)


@pytest.mark.parametrize("models", [[], [ModelRow("v1", "-", None, outcome="training_failed")]])
def test_a_run_that_never_decided_still_draws(models: list[ModelRow], tmp_path: Path) -> None:
    _, chart = write_report(DemoSummary(models=models), tmp_path / "r.md")
    assert chart.read_bytes().startswith(b"\x89PNG")
