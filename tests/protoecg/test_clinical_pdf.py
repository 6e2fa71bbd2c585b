"""The clinical PDF opens (pdftoppm renders it) and its ECG grid measures true scale on the page."""
import shutil
import subprocess

import numpy as np
import pytest

from protoecg.reports import clinical_pdf_bytes, write_clinical_pdf

from .explain_support import tiny_bundle_path

DPI = 200
MM = DPI / 25.4                                     # pixels per millimetre on the rendered page

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                reason="pdftoppm (Debian poppler-utils) missing; `make test` installs it")


@pytest.fixture(scope="module")
def explained(fixtures_dir):
    from data_access.formats import read_any
    from protoecg.bundle import load_bundle
    from protoecg.explain import Explainer

    bundle = load_bundle(tiny_bundle_path())
    rec = read_any(fixtures_dir / "formats" / "waveform_ecg.dcm")
    return Explainer(bundle).explain(rec, counterfactual=False), rec


def _render(pdf, tmp_path):
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True, timeout=60)
    from matplotlib.image import imread
    return (imread(tmp_path / "page.png")[..., :3] * 255).round().astype(int)


def _line_centres(mask_1d: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask_1d)
    if idx.size == 0:
        return idx
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    return np.array([g.mean() for g in groups])


def test_pdf_is_one_true_scale_page(explained, tmp_path):
    expl, rec = explained
    pdf = write_clinical_pdf(expl, tmp_path / "ecg.pdf", signal=rec.signal, fs=rec.fs, record_meta=rec.metadata)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout \
        if shutil.which("pdfinfo") else ""
    if info:
        import re
        assert re.search(r"^Pages:\s+1$", info, re.M), info
    img = _render(pdf, tmp_path)
    h, w, _ = img.shape
    assert abs(w / MM - 297) < 1.5 and abs(h / MM - 210) < 1.5                 # A4 landscape at 100 %
    # Major grid lines are drawn in #e48a8a; find them along a row and a column that cross the sheet.
    major = (np.abs(img - np.array([228, 138, 138])).sum(axis=2) < 60)
    col_profile = major[int(h * 0.40):int(h * 0.45)].mean(axis=0) > 0.5      # vertical lines
    row_profile = major[:, int(w * 0.30):int(w * 0.35)].mean(axis=1) > 0.5   # horizontal lines
    xs, ys = _line_centres(col_profile), _line_centres(row_profile)
    assert xs.size > 40 and ys.size > 15, (xs.size, ys.size)
    dx, dy = np.median(np.diff(xs)), np.median(np.diff(ys))
    assert abs(dx / MM - 5.0) < 0.1 and abs(dy / MM - 5.0) < 0.1, (dx / MM, dy / MM)
    # 10 s at 25 mm/s: the sheet's vertical major lines span at least 250 mm.
    assert (xs[-1] - xs[0]) / MM >= 250 - 1


def test_pdf_says_what_a_reader_needs(explained):
    from io import BytesIO

    expl, rec = explained
    data = clinical_pdf_bytes(expl, signal=rec.signal, fs=rec.fs, record_meta=rec.metadata)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing")
    txt = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, timeout=60).stdout.decode()
    assert "research and demonstration use only" in txt
    assert "DEMO MODEL" in txt and "25 mm/s" in txt and "RITMO SINUSALE" in txt
    top = max(expl.predictions, key=lambda p: p.probability)
    assert f"{top.probability:.2f}" in txt
    assert BytesIO(data).getvalue().count(b"/Type /Page") - BytesIO(data).getvalue().count(b"/Type /Pages") == 1


def test_explain_cli_reads_a_muse_file_and_writes_a_linked_pdf(tmp_path, fixtures_dir, capsys):
    from protoecg_cli import main
    from tests.data_access.clinical_factory import real_mv, write_muse

    muse = write_muse(tmp_path / "muse_ecg.xml", real_mv(fixtures_dir))
    rc = main(["explain", "--model", str(tiny_bundle_path()), "--record", str(muse), "--no-counterfactual",
               "--html", str(tmp_path / "r.html"), "--pdf", str(tmp_path / "r.pdf")])
    out = capsys.readouterr().out
    assert rc == 0 and "leads III, aVR, aVL, aVF were derived" in out and "PDF:" in out
    assert (tmp_path / "r.pdf").read_bytes()[:5] == b"%PDF-"
    assert 'href="r.pdf"' in (tmp_path / "r.html").read_text(encoding="utf-8")
    txt = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True).stdout
    assert "derived leads III aVR aVL aVF" in txt and "GE MUSE XML" in txt and "Normal sinus rhythm" in txt
