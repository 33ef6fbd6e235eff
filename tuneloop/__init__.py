"""Composition root: settings, the command line, wiring and the offline stand-ins.

bot/, curation/ and scheduler/ never import from here; this package builds them and hands each
what it needs.
"""
