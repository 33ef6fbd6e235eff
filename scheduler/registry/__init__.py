"""The model registry: which model is served, promotion and rollback with an audit trail."""

from scheduler.registry.lookup import ActiveModelLookup
from scheduler.registry.registry import ANY_INCUMBENT, Registry

__all__ = ["ANY_INCUMBENT", "ActiveModelLookup", "Registry"]
