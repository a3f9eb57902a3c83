"""Spending and exactly-once guards: the idempotent section, the daily call budget, re-use of
identical results."""
