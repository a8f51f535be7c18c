"""The market-intelligence forum: signals, replies, risk handling, anonymous reports."""
