"""Clinician review: the ratings store used by the review app and the ``protoecg ratings`` CLI."""
