"""Shipped tables (see README.md in this folder for how they were made)."""
