"""Semantic-communication schemes, each composed from the shared core."""
