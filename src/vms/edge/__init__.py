"""Edge servers: buffering events and clips for the cloud (staging, relay) and the cloud's ingest routes."""
