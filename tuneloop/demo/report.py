"""The demo's report: Markdown with every model version, the gate's figures and reasons, the
checks, and a PNG chart of why the gate decided as it did (matplotlib, Agg: no display)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuneloop.demo.summary import DemoSummary, ModelRow

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Bar colours by what became of each version.
_COLOURS = {"promoted": "#2e7d32", "rejected": "#c62828", "served first": "#9e9e9e"}
CHART_TITLE = "Why the gate decided: each version against the model served before it"


def _colour(row: ModelRow) -> str:
    return _COLOURS.get(row.outcome or "", "#1565c0")


def _win_rates(axes: Axes, rows: list[ModelRow]) -> None:
    """Win rate against the incumbent, down to its lower confidence bound, and the win rate
    the gate's sign test must beat; each bar says its p-value."""
    rows = [row for row in rows if row.win_rate is not None]
    x = list(range(len(rows)))
    rates = [float(row.win_rate or 0.0) for row in rows]
    bounds = [
        rate if r.win_rate_lower_bound is None else r.win_rate_lower_bound
        for rate, r in zip(rates, rows, strict=True)
    ]
    below = [rate - bound for rate, bound in zip(rates, bounds, strict=True)]
    axes.bar(x, rates, color=[_colour(row) for row in rows], width=0.6)
    axes.errorbar(
        x,
        rates,
        yerr=[below, [0.0] * len(rows)],
        fmt="none",
        ecolor="black",
        capsize=8,
        label="down to the lower confidence bound",
    )
    for i, row in enumerate(rows):
        if row.thresholds is not None:
            beat = f"to beat (sign test, p < {row.thresholds.significance:g})"
            _line_over(axes, i, row.thresholds.null_win_rate, beat, colors="black")
        p = "" if row.p_value is None else f"\np = {row.p_value:.2g}"
        axes.annotate(
            f"{rates[i]:.3f}{p}",
            (i, rates[i]),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    _finish(
        axes,
        rows,
        "win rate against the served model",
        "Win rate (bar), its lower bound (whisker)",
        "no gate decision yet",
    )


def _golden_means(axes: Axes, rows: list[ModelRow]) -> None:
    """Golden-set mean per version, with the gate's floor and the regression limit (the
    served model's golden mean less the tolerance)."""
    rows = [row for row in rows if row.golden_mean is not None]
    x = list(range(len(rows)))
    means = [float(row.golden_mean or 0.0) for row in rows]
    bars = axes.bar(x, means, color=[_colour(row) for row in rows], width=0.6)
    axes.bar_label(bars, labels=[f"{v:.3f}" for v in means], padding=2, fontsize=8)
    for i, row in enumerate(rows):
        if row.thresholds is None:
            continue
        _line_over(axes, i, row.thresholds.golden_floor, "floor", colors="black")
        if row.incumbent_golden_mean is not None:
            limit = row.incumbent_golden_mean - row.thresholds.golden_tolerance
            _line_over(
                axes,
                i,
                limit,
                "served model's mean - tolerance",
                colors="#6a1b9a",
                linestyles="dotted",
                linewidth=2,
            )
    _finish(
        axes,
        rows,
        "golden-set mean score",
        "Golden set: must stay above both lines",
        "no golden-set score yet",
    )


def _line_over(axes: Axes, bar: int, y: float, label: str, **style: Any) -> None:
    """A threshold drawn across one bar (dashed unless `style` says otherwise), named in the
    legend once."""
    named = label in axes.get_legend_handles_labels()[1]
    axes.hlines(
        y, bar - 0.4, bar + 0.4, label=None if named else label, **{"linestyles": "dashed", **style}
    )


def _finish(axes: Axes, rows: list[ModelRow], ylabel: str, title: str, empty: str) -> None:
    """Versions on the x axis, scores from 0 to 1 (and room for the labels), the legend, or
    `empty` when nothing was drawn."""
    axes.set_xticks(list(range(len(rows))), [row.label for row in rows])
    axes.set_ylim(0, 1.15)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper right", fontsize=8)
    elif not axes.patches:
        axes.text(0.5, 0.5, empty, ha="center", va="center", transform=axes.transAxes)


def draw_chart(summary: DemoSummary) -> Figure:
    """The chart as a matplotlib figure (close it with `plt.close`): win rates with their
    bounds and the win rate to beat, and golden means with the floor and the regression limit,
    per version, coloured by the gate's decision (green promoted, red rejected)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (rates, golden) = plt.subplots(1, 2, figsize=(11, 4.5), dpi=100)
    _win_rates(rates, summary.models)
    _golden_means(golden, summary.models)
    figure.suptitle(CHART_TITLE + " (green: promoted, red: rejected)", fontsize=11)
    figure.tight_layout()
    return figure


def write_chart(summary: DemoSummary, path: Path) -> Path:
    """The chart (see `draw_chart`) as a PNG at `path`."""
    from matplotlib import pyplot as plt

    figure = draw_chart(summary)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _gate_lines(row: ModelRow) -> str:
    t = row.thresholds
    if t is None:
        return "-"
    return (
        f"beat {t.null_win_rate:g} at p < {t.significance:g}; golden >= {t.golden_floor:g} "
        f"and >= served - {t.golden_tolerance:g}"
    )


def _model_line(row: ModelRow) -> str:
    cells = [
        row.label,
        f"`{row.model}`",
        _figure(row.golden_mean),
        _figure(row.win_rate),
        _figure(row.win_rate_lower_bound),
        "-" if row.p_value is None else f"{row.p_value:.2g}",
        _gate_lines(row),
        row.outcome or "-",
        row.reason.replace("|", "\\|"),
    ]
    return "| " + " | ".join(cells) + " |"


def render_markdown(summary: DemoSummary, chart_name: str | None) -> str:
    verdict = "behaved as described" if summary.ok else "did NOT behave as described"
    lines = [
        "# tuneloop demo report",
        "",
        f"The loop {verdict} in {summary.wall_seconds:.1f} s. Active model at the end: "
        f"`{summary.active_model}`.",
        "",
        "## Model versions",
        "",
        "| version | model | golden mean | win rate | lower bound | p-value | gate's thresholds "
        "| outcome | gate's reason |",
        "|---|---|---|---|---|---|---|---|---|",
        *(_model_line(row) for row in summary.models),
        "",
    ]
    if chart_name:
        lines += [
            f"![{CHART_TITLE}]({chart_name})",
            "",
            "Left: each version's win rate against the model served before it, the whisker down "
            "to its lower confidence bound, and the win rate the gate's sign test must beat "
            "(dashed). Right: golden-set means, the floor (dashed) and the served model's mean "
            "less the tolerance (dotted). Two versions can share a golden mean and still differ: "
            "the later one wins on the held-out questions it was corrected on.",
            "",
        ]
    lines += ["## Checks", "", "| check | result | detail |", "|---|---|---|"]
    for check in summary.checks:
        detail = check.detail.replace("|", "\\|")
        lines.append(f"| {check.name} | {'pass' if check.passed else 'FAIL'} | {detail} |")
    lines += ["", "## Numbers", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in summary.numbers.items()]
    return "\n".join(lines) + "\n"


def write_report(summary: DemoSummary, path: Path) -> tuple[Path, Path]:
    """`path` (Markdown) and the chart next to it (`<stem>.png`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    chart = write_chart(summary, path.with_suffix(".png"))
    path.write_text(render_markdown(summary, chart.name), encoding="utf-8")
    return path, chart
