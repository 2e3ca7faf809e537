"""The app's widgets: one per module, each owning its bindings."""
