"""The Slack adapter: a Bolt app that gets its store, model client and active-model lookup passed in."""
