"""The curated example store: one database, capture, review, examples and JSONL export.

Knows nothing of Slack or of training; callers pass plain values in.
"""
