"""Failures of a LoRA job with a known cause, by the code the job reports (OpenAI's style:
`job.error.code` + `job.error.message`)."""

from __future__ import annotations


class WorkerFailure(Exception):
    """Training cannot go on for a reason the message explains; `code` names it."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)
