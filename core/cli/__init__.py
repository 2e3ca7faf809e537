"""The `flowdev` command line."""
