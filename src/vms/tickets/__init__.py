"""Tickets: follow-up work raised from events (built-in records; ServiceNow and Jira adapters follow)."""
