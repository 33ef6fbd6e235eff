"""Running the cycle on a schedule: APScheduler jobs, guarded by a lease for one leader."""

from scheduler.service.by_hand import retrain_by_hand
from scheduler.service.lease import Lease, LeaseKeeper
from scheduler.service.scheduling import RetrainScheduler, ScheduleConfig

__all__ = ["Lease", "LeaseKeeper", "RetrainScheduler", "ScheduleConfig", "retrain_by_hand"]
