"""The demo: a living network of centres on the embedded default."""
