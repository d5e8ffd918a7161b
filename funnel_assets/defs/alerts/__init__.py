"""Alerts: sensors that notify people of failed runs and failed data-quality checks (webhook, email)."""
