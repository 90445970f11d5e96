"""Simulated devices speaking real protocols (ONVIF, WS-Discovery) for tests and demos."""
