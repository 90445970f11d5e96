"""Statistics and metrics: the platform's Prometheus metrics (`metrics.py`) and their scrape endpoint (`api.py`)."""
