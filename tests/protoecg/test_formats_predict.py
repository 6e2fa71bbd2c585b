"""Done-when of the clinical formats: every format's sample predicts what its WFDB conversion predicts."""
import numpy as np
import pytest

from data_access.convert import convert_many
from data_access.formats import read_any
from data_access.preprocess import to_model_input

from ..data_access.clinical_factory import real_mv, write_aecg, write_edf, write_muse, write_philips
from .explain_support import tiny_bundle_path


@pytest.fixture(scope="module")
def bundle():
    from protoecg.bundle import load_bundle
    return load_bundle(tiny_bundle_path())


@pytest.fixture(scope="module")
def samples(tmp_path_factory, fixtures_dir):
    d = tmp_path_factory.mktemp("predict")
    leads = real_mv(fixtures_dir)
    return [fixtures_dir / "formats" / "waveform_ecg.dcm", write_muse(d / "muse.xml", leads),
            write_philips(d / "philips.xml", leads), write_philips(d / "philips_xli.xml", leads, compress=True),
            write_aecg(d / "aecg.xml", leads), write_edf(d / "ecg.edf", leads),
            # written by other software: a Philips HeartStart MRx file (XLI), the FDA's full HL7 aECG example
            # (Mortara ELI250), a GE MUSE 9 export of a MAC cart ECG and ecg2dcm's DICOM of it (these two
            # last: the comparison below relies on it)
            fixtures_dir / "formats" / "philips_sierra103_129DYPRG.xml",
            fixtures_dir / "formats" / "fda_ectd_subject1_1.xml",
            fixtures_dir / "formats" / "muse_guangxi_sinus_rhythm.xml",
            fixtures_dir / "formats" / "ecg2dcm_guangxi_sinus_rhythm.dcm"]


def test_each_format_predicts_like_its_wfdb_conversion(bundle, samples, tmp_path):
    run = convert_many(samples, tmp_path / "wfdb")
    assert not run.bad and len(run.written) == len(samples)
    x_file = np.stack([to_model_input(read_any(src), bundle.fs, bundle.n_samples) for src, _ in run.written])
    x_wfdb = np.stack([to_model_input(read_any(out), bundle.fs, bundle.n_samples) for _, out in run.written])
    p_file, p_wfdb = bundle.predict(x_file).probs, bundle.predict(x_wfdb).probs
    np.testing.assert_allclose(p_file, p_wfdb, atol=1e-4)
    # The comparison has teeth: the DICOM ECG and the PTB-XL ECG differ by more than the tolerance above
    # (the tiny test model is weakly discriminative, so by a few times it, not by a fixed large margin).
    assert np.abs(p_file[0] - p_file[1]).max() > 3e-4
    # The MUSE export and its DICOM conversion are one ECG: one prediction (derived leads within 2.4 µV).
    np.testing.assert_allclose(p_file[-2], p_file[-1], atol=1e-4)


def test_explain_accepts_a_clinical_file_path(bundle, samples):
    from protoecg.explain import Explainer

    expl = Explainer(bundle).explain(samples[1], counterfactual=False)
    assert expl.record_id == "muse" and len(expl.predictions) == len(bundle.codes)
