"""Medicines-use and outcomes analytics: treatment patterns and survival of cohorts,
consent-aware and disclosure-controlled (see ``docs/analytics.md``)."""
