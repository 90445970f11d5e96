"""The api role: the gateway every client talks to."""
