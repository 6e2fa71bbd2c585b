"""Reading and validating ECG data: PTB-XL, single WFDB records, MIMIC-IV; preprocessing; demo generators.

Nothing here imports ``protoecg``, ``analysis`` or ``app``: data flows one way, out of this package.
"""
