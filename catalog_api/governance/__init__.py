"""Governance: saved cohorts, access requests split per centre, board decisions, exports."""
