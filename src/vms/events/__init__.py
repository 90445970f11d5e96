"""Events: detections turned into trusted, correlated incidents operators work on."""
