"""`tuneloop retrain` by hand: do the work if no scheduler leads, follow it if one does.

Whoever holds the scheduler lease advances cycles, so a hand-started run never races the
scheduler process on the same cycle. When the lease is free (no scheduler runs, or its holder
died) this process takes it for as long as it works; when a live scheduler holds it, a cycle is
opened for it to run (with `force`) and followed through the database. The work done here is
fenced by the lease's token: if this process loses the lease while it works (paused past the
TTL), its writes are refused and it follows the new leader instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from scheduler.cycle import CycleReport, CycleRunner
from scheduler.errors import LeaseLost
from scheduler.service.lease import Lease, LeaseKeeper


def retrain_by_hand(
    runner: CycleRunner,
    lease: Lease,
    *,
    force: bool,
    wait: bool,
    trigger: str,
    requested_by: str,
    poll_seconds: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    on_follow: Callable[[str], None] | None = None,
    on_progress: Callable[[CycleReport], None] | None = None,
) -> CycleReport:
    """Start or resume a run; with `wait`, return once it has decided (or has to wait for a
    rate limit to lift at the next scheduled run). `on_progress` hears each report taken while
    waiting, and after each stage step this process runs (the stage and the job's progress
    are in its note)."""
    report: CycleReport | None = None

    def progressed(latest: CycleReport) -> CycleReport:
        if on_progress is not None and not latest.decided:
            on_progress(latest)
        return latest

    while True:
        with LeaseKeeper(lease) as leading:
            if leading:
                fence = lease.fence().check
                try:
                    if report is None or report.cycle_id is None:
                        report = runner.tick(
                            force=force,
                            trigger=trigger,
                            requested_by=requested_by,
                            fence=fence,
                            on_step=progressed,
                        )
                    else:  # followed it until its leader went away: finish it here
                        report = runner.advance(
                            report.cycle_id, respect_wait=True, fence=fence, on_step=progressed
                        )
                    while wait and report.cycle_id and not report.decided:
                        if report.waiting_until is not None:
                            break
                        progressed(report)
                        sleep(poll_seconds)
                        report = runner.advance(
                            report.cycle_id, respect_wait=True, fence=fence, on_step=progressed
                        )
                    return report
                except LeaseLost:
                    # Another process leads now; follow it through the database.
                    open_now = runner.open_cycle()
                    report = runner.report(open_now.id) if open_now is not None else report
        if report is None:
            report = runner.begin(force=force, trigger=trigger, requested_by=requested_by)
            if report.cycle_id is not None and on_follow is not None:
                holder = lease.current()
                on_follow(holder.holder if holder else "another process")
        else:
            report = runner.report(report.cycle_id) if report.cycle_id else report
        if not wait or report.cycle_id is None or report.decided:
            return report
        progressed(report)
        sleep(poll_seconds)
