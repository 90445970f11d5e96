"""The watchdog: heartbeats, SLAs, lag, cameras and storage judged into incidents (requirements §9)."""
