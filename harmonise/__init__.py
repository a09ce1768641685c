"""Harmonisation: submission bundles, VCF and mCODE FHIR ingest, the lake layer."""
