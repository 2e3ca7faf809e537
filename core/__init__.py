"""flowdev: asset-first data orchestration with a live terminal dev environment."""

__version__ = "0.1.0"
