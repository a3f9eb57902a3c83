"""Settings, errors and observability: what every other subpackage may import."""
