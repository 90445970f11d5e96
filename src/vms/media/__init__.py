"""Media: segments, recordings and the normaliser that turns video into model-ready frames."""
