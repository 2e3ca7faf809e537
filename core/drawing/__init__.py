"""Graph layout and its text rendering, shared by the CLI and the app."""
