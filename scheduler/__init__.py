"""The retraining cycle: train a candidate, evaluate it against the served model, and promote
it only when the gate says it is better.

Depends on curation/ (the store and export) and on an `openai.OpenAI` client; knows nothing of
Slack or of how the client was built.
"""
