"""Customers (tenants) and their licenses: what each customer may use."""
