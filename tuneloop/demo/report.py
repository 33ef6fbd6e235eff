"""The demo's report: Markdown with every model version, the gate's figures and reasons, the
checks, and a PNG chart of the golden score per model version (matplotlib, Agg: no display)."""

from __future__ import annotations

from pathlib import Path

from tuneloop.demo.summary import DemoSummary, ModelRow

#: Bar colours by what became of each version.
_COLOURS = {"promoted": "#2e7d32", "rejected": "#c62828", "served first": "#9e9e9e"}


def write_chart(summary: DemoSummary, path: Path) -> Path:
    """Golden-set mean score per model version, coloured by the gate's decision."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [row for row in summary.models if row.golden_mean is not None]
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    try:
        labels = [row.label for row in rows]
        values = [float(row.golden_mean or 0.0) for row in rows]
        colours = [_COLOURS.get(row.outcome or "", "#1565c0") for row in rows]
        bars = axes.bar(labels, values, color=colours)
        axes.bar_label(bars, labels=[f"{v:.3f}" for v in values], padding=2)
        axes.set_ylim(0, 1)
        axes.set_ylabel("golden-set mean score")
        axes.set_title("Evaluation score per model version (green: promoted, red: rejected)")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
    finally:
        plt.close(figure)
    return path


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _model_line(row: ModelRow) -> str:
    cells = [
        row.label,
        f"`{row.model}`",
        _figure(row.golden_mean),
        _figure(row.win_rate),
        _figure(row.win_rate_lower_bound),
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
        "| version | model | golden mean | win rate | lower bound | outcome | gate's reason |",
        "|---|---|---|---|---|---|---|",
        *(_model_line(row) for row in summary.models),
        "",
    ]
    if chart_name:
        lines += [f"![Evaluation score per model version]({chart_name})", ""]
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
