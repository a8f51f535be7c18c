"""Subscriptions, the in-app inbox and the daily e-mail digest."""
