"""The status engine: verdicts, levels, their history, and the snapshot readers share."""
