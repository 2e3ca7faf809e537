"""Resources, config, environment variables and IO managers."""
