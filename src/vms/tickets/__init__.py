"""Tickets: follow-up work raised from events — built-in records, or delivered to a customer's ServiceNow or Jira."""
