"""Accounts: sign-in, sessions, API tokens."""
