"""The taxi assets, one module per group."""
