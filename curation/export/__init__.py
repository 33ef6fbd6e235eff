"""JSONL export of dataset versions (SFT and DPO), validated, streamed and recorded."""

from curation.export.lines import Method
from curation.export.writer import (
    MIN_TRAINING_EXAMPLES,
    ExportOptions,
    ExportResult,
    export_dataset,
    exportable,
    left_out_summary,
)

__all__ = [
    "MIN_TRAINING_EXAMPLES",
    "ExportOptions",
    "ExportResult",
    "Method",
    "export_dataset",
    "exportable",
    "left_out_summary",
]
