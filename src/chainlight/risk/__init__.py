"""The risk engine: the gatekeeper (policy rules, scorecard, claims, credit line, audit log)."""
