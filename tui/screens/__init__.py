"""The app's modal screens: help, quit, and the selection prompt."""
