"""The face-fusion API client: one HTTP call, how its answers and published codes are read, retries,
the bound on paid calls per pair, and the API key."""
