"""Operator tools for a deployed (or local) stack."""
