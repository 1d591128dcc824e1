"""The `coursestream` command: runs and operates the four services together."""
