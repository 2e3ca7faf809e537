"""flowdev's sample project: taxi trips from generation to a daily report."""
