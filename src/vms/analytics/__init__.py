"""The AI plane: video jobs, the worker runtime and the analytics model plugins."""
