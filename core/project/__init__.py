"""Finding a project, loading its definitions in a child process, watching it."""
