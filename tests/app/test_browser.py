"""End to end in a real browser: the real ``protoecg app`` server driven by headless Debian Chromium.

With ``PROTOECG_E2E_MODEL=RUN`` (e.g. the ``make demo`` model) it also refreshes
docs/screenshots/case_review.png, the README's picture of the case review page; a plain test run keeps its
screenshot under the test's temporary directory, so ``make test`` leaves the tracked tree untouched.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from protoecg.review.ratings import RatingsStore

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "screenshots" / "case_review.png"
EXAMPLE = REPO / "app" / "examples" / "ptbxl" / "records100" / "00000" / "00001_lr"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the app did not answer on port {port} within {timeout} s")


@pytest.fixture()
def server(tiny_bundle_dir, demo_data_dir, tmp_path):
    """The real server on a free localhost port. PROTOECG_E2E_MODEL=RUN serves another model (e.g. the
    `make demo` model, for a README screenshot with meaningful predictions); default: the tiny model."""
    model = os.environ.get("PROTOECG_E2E_MODEL") or str(tiny_bundle_dir)
    port = _free_port()
    db = tmp_path / "ratings.sqlite"
    log = open(tmp_path / "server.log", "w")
    cmd = [sys.executable, "-c", "import sys; from protoecg_cli import main; sys.exit(main())", "app", "--model", model, "--port",
           str(port), "--db", str(db), "--data", str(demo_data_dir), "--max-upload-mb", "1"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_healthy(port, proc)
        yield port, db, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        print((tmp_path / "server.log").read_text()[-3000:])


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (run `make browser`)")
def test_case_review_in_chromium(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    port, db, proc = server
    assert "127.0.0.1" in (proc.args[proc.args.index("--host") + 1] if "--host" in proc.args
                           else "127.0.0.1")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1500})
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_text("Real PTB-XL examples").click()
            page.get_by_text("Predicted labels by branch").wait_for()
            page.get_by_text("Case feedback for 00001_lr").wait_for()
            if os.environ.get("PROTOECG_E2E_MODEL") is None:  # the tiny model is a demo model
                page.get_by_text("generated ECGs — a demonstration, not a diagnostic").first.wait_for()
            # explain a morphology label: its prototypes match local windows, drawn on the sheet
            page.get_by_role("combobox", name="Explain label").click()
            page.keyboard.type("IMI — inferior")
            page.keyboard.press("Enter")
            page.get_by_text("00001_lr: matched windows for IMI").wait_for()
            page.locator(".js-plotly-plot").first.wait_for()
            time.sleep(2)  # let the Plotly figures finish drawing
            shot = SCREENSHOT if os.environ.get("PROTOECG_E2E_MODEL") else tmp_path / "case_review.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot))

            page.get_by_role("textbox", name="Reviewer name").fill("Dr Browser")
            page.get_by_text("partly", exact=True).click()
            page.get_by_role("button", name="Submit case feedback").click()
            page.get_by_text("Rating saved.").wait_for()

            # a bad upload through the real upload endpoint: a message in the page, no traceback
            page.get_by_text("Upload ECG (XML, DICOM, EDF or WFDB)").click()
            bad_hea = tmp_path / "00001_lr.hea"
            bad_hea.write_bytes(EXAMPLE.with_suffix(".hea").read_bytes())
            bad_dat = tmp_path / "00001_lr.dat"
            bad_dat.write_bytes(EXAMPLE.with_suffix(".dat").read_bytes()[:4000])  # truncated copy
            page.locator("input[type=file]").set_input_files([str(bad_hea), str(bad_dat)])
            page.get_by_text("This upload cannot be used").wait_for()
            assert page.get_by_text("Traceback").count() == 0
        finally:
            browser.close()

    assert shot.stat().st_size > 50_000
    df = RatingsStore(db).case_feedback()
    assert len(df) == 1
    row = df.iloc[0]
    assert (row.reviewer, row.record_id, row.record_source, row.agrees) == \
        ("Dr Browser", "00001_lr", "ptbxl", "partly")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (run `make browser`)")
def test_every_clinical_format_uploads_in_chromium(server, tmp_path):
    """Each clinical format through the real upload endpoint: explained, with a PDF that downloads."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.data_access.clinical_factory import real_mv, write_edf

    port, _, _ = server
    fx = REPO / "tests" / "fixtures"
    leads = real_mv(fx)
    # GE MUSE, Philips and HL7 aECG: the real files vendored in tests/fixtures/formats (the factory's files are
    # read in tests/data_access); ecg2dcm's DICOM conversion of the MUSE file is the General ECG SOP class.
    files = {"GE MUSE XML": fx / "formats" / "muse_guangxi_sinus_rhythm.xml",
             "DICOM General ECG": fx / "formats" / "ecg2dcm_guangxi_sinus_rhythm.dcm",
             "Philips Sierra XML": fx / "formats" / "philips_sierra103_129DYPRG.xml",     # real, XLI
             "HL7 aECG": fx / "formats" / "fda_ectd_subject1_1.xml",                   # real, FDA/HL7
             "EDF": write_edf(tmp_path / "holter_ecg.edf", leads),
             "DICOM 12-lead ECG": fx / "formats" / "waveform_ecg.dcm"}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            for fmt, path in files.items():
                page = browser.new_page(viewport={"width": 1400, "height": 1400})
                page.set_default_timeout(120_000)
                page.goto(f"http://127.0.0.1:{port}/")
                page.get_by_text("Upload ECG (XML, DICOM, EDF or WFDB)").click()
                page.locator("input[type=file]").set_input_files(str(path))
                page.get_by_text(f"Record {path.stem}").wait_for()
                page.get_by_text(fmt).first.wait_for()
                page.get_by_text("Predicted labels by branch").wait_for()
                button = page.get_by_role("button", name="Download PDF (one page, true scale 25 mm/s, 10 mm/mV)")
                button.wait_for()
                if fmt.startswith("DICOM"):
                    with page.expect_download() as dl:
                        button.click()
                    target = tmp_path / "downloaded.pdf"
                    dl.value.save_as(target)
                    assert target.read_bytes()[:5] == b"%PDF-" and target.stat().st_size > 20_000
                assert page.get_by_text("Traceback").count() == 0
                page.close()
        finally:
            browser.close()
