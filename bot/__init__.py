"""The Slack adapter: a Bolt app given its store, model client and active-model lookup."""
