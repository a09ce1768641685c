"""Configuration of the catalogue service."""
