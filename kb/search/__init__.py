"""Chinese full-text search."""
