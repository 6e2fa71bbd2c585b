"""Demo-data generators: synthetic ECGs and datasets in the exact on-disk layouts of PTB-XL and MIMIC-IV.

Every signal produced here is GENERATED (a Gaussian-wave cardiac-dipole model), never a patient's.

- :func:`data_access.synth.ecg.synthesize_ecg`: one 12-lead ECG showing chosen PTB-XL codes
  (:data:`data_access.synth.ecg.SUPPORTED_LABELS`, with the criterion implemented for each).
- :func:`data_access.synth.ptbxl.generate_ptbxl` / :class:`data_access.synth.ptbxl.SynthConfig`: a
  whole PTB-XL-layout dataset (``protoecg data synth-ptbxl``).

Nothing is imported here, so importing the package costs nothing.
"""
