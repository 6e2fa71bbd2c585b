"""protoecg: interpretable 12-lead ECG analysis with a three-branch prototype network.

Public entry points are documented in the README; the CLI is ``protoecg --help``.
"""
__version__ = "0.1.0"
