"""The retraining cycle: trainers, evaluation, the gate, the model registry and scheduling.

Knows nothing of Slack.
"""
