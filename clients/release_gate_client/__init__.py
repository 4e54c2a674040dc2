"""Client for release-gate."""
