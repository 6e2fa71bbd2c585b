"""Each page driven by streamlit.testing's AppTest against a real tiny model and a real SQLite file."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from protoecg.review.ratings import RatingsStore

from .conftest import APP_DIR, PAGES

TIMEOUT = 120
EXAMPLES = APP_DIR / "examples" / "ptbxl" / "records100" / "00000"


def _page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in (*at.info, *at.warning, *at.error, *at.success)]
    return "\n".join(str(p) for p in parts)


def test_main_navigation_runs_the_default_page(app_env):
    at = AppTest.from_file(str(APP_DIR / "main.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Case review"


def test_every_page_shows_the_demo_banner(app_env):
    for name in ("case_review", "prototype_gallery", "phenotype_explorer", "model_card"):
        at = _page(name)
        assert any("generated ECGs" in w.value and "not a diagnostic" in w.value for w in at.warning), name


def test_model_card_says_demo_data_and_shows_metrics(app_env, tiny_bundle_dir):
    from protoecg.bundle import load_bundle

    at = _page("model_card")
    text = _texts(at)
    assert "generated demo ECGs" in text
    m = load_bundle(tiny_bundle_dir).metrics
    shown = [x.value for x in at.metric if x.label == "Macro AUROC"]
    expect = [m[s]["macro_auroc"] for s in ("validation", "test") if s in m]
    assert shown == ["—" if v != v else f"{v:.3f}" for v in expect]
    assert "95% CI" in text and "distinct source ECGs" in text


def test_gallery_rating_reaches_the_database(app_env):
    at = _page("prototype_gallery")
    pid = next(s.value for s in at.selectbox if s.key and s.key.startswith("g_pid_"))
    form = f"rate_{pid}"
    at.text_input(key=f"{form}_reviewer").input("Dr Gallery")
    at.radio(key=f"{form}_accurate").set_value("no")
    at.selectbox(key=f"{form}_suggested").set_value("NORM")
    at.slider(key=f"{form}_rep").set_value(2)
    at.slider(key=f"{form}_clarity").set_value(5)
    at.text_area(key=f"{form}_comment").input("window misses the QRS")
    at.checkbox(key=f"{form}_bad").check()
    next(b for b in at.button if b.label == "Submit rating").click()
    at.run()
    assert not at.exception
    assert any("Rating saved" in s.value for s in at.success), _texts(at)
    df = RatingsStore(app_env["PROTOECG_APP_DB"]).prototype_ratings()
    assert len(df) == 1
    r = df.iloc[0]
    assert (r.reviewer, r.prototype_id, r.accurate, r.suggested_class) == ("Dr Gallery", pid, False, "NORM")
    assert (r.representativeness, r.clarity, bool(r.bad), bool(r.best)) == (2, 5, True, False)
    assert r.comment == "window misses the QRS" and r.model_id == app_env["PROTOECG_APP_MODEL"]


def test_gallery_refuses_a_rating_without_reviewer(app_env):
    at = _page("prototype_gallery")
    next(b for b in at.button if b.label == "Submit rating").click()
    at.run()
    assert any("reviewer" in e.value for e in at.error)
    assert RatingsStore(app_env["PROTOECG_APP_DB"]).prototype_ratings().empty


def test_phenotype_explorer_empty_state(app_env):
    at = _page("phenotype_explorer")
    info = "\n".join(i.value for i in at.info)
    assert "No phenotype association results yet" in info and "protoecg phewas" in info


def test_phenotype_explorer_shows_a_real_scan(app_env):
    from analysis.phewas import PheWAS
    from analysis.phewas_sim import simulate_phewas

    sim = simulate_phewas(n_units=600, n_phecodes=6, n_planted=2, seed=1)
    res = PheWAS().fit(sim.features, sim.phenotypes, sim.units, phecode_info=sim.phecode_info).results_
    out = Path(app_env["PROTOECG_APP_RESULTS"])
    out.mkdir(parents=True)
    res.to_csv(out / "results.csv", index=False)
    at = _page("phenotype_explorer")
    shown = {m.label: m.value for m in at.metric}
    assert shown["Tests"] == f"{len(res):,}"
    assert shown["Hits (hierarchical FDR < 0.05)"] == f"{int(res['hit'].sum()):,}"
    assert shown["Bonferroni-significant"] == f"{int(res['bonferroni'].sum()):,}"
    assert len(at.get("plotly_chart")) >= 2
    # the per-prototype table lists the chosen feature's associations, strongest first
    feat = at.selectbox(key="ph_feature").value
    table = at.dataframe[0].value
    expect = res[res["feature"] == feat].sort_values("p")
    assert list(table["phecode"]) == list(expect["phecode"])


def test_phenotype_explorer_reports_a_damaged_results_file(app_env):
    out = Path(app_env["PROTOECG_APP_RESULTS"])
    out.mkdir(parents=True)
    (out / "results.csv").write_text("a,b\n1,2\n")
    at = _page("phenotype_explorer")
    assert any("lacks column" in e.value for e in at.error)


# ---- case review ------------------------------------------------------------------------------

def _upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.sidebar.radio(key="source").set_value("Upload ECG (XML, DICOM, EDF or WFDB)").run()
    at.file_uploader(key="upload").set_value([(n, b, "application/octet-stream") for n, b in files])
    return at.run()


@pytest.mark.parametrize("files, message", [
    ([("rec.hea", b"rec 12 100 1000\nthis is not a header\n"), ("rec.dat", b"\x00" * 100)],
     "cannot be used"),
    ([("rec.hea", (EXAMPLES / "00001_lr.hea").read_bytes())], "exactly one .hea"),
    ([("00001_lr.hea", (EXAMPLES / "00001_lr.hea").read_bytes()), ("other.dat", b"\x00" * 10)],
     "refers to signal file"),
    ([("00001_lr.hea", (EXAMPLES / "00001_lr.hea").read_bytes()),
      ("00001_lr.dat", (EXAMPLES / "00001_lr.dat").read_bytes()[:5000])], "cannot be used"),
    ([("big.hea", b"big 12 100 1000\n"), ("big.dat", b"\x00" * (1024 * 1024 + 1))], "limit"),
])
def test_bad_upload_shows_a_message_not_a_traceback(app_env, files, message):
    at = _upload(_page("case_review"), files)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and message in errors[0], errors
    assert "Traceback" not in errors[0]


def test_case_review_demo_test_set(app_env, demo_data_dir):
    from data_access.ptbxl import read_metadata

    at = _page("case_review")
    n_test = int((read_metadata(demo_data_dir)["strat_fold"] == 10).sum())
    assert len(at.sidebar.selectbox(key="record_Test fold of the model's training data").options) == n_test
    assert "Predicted labels by branch" in _texts(at)


def test_case_review_ptbxl_example_end_to_end(app_env):
    at = _page("case_review")
    at.sidebar.radio(key="source").set_value("Real PTB-XL examples").run()
    assert not at.exception
    text = _texts(at)
    assert "Predicted labels by branch" in text and "PTB-XL" in text
    labels = at.selectbox(key=next(s.key for s in at.selectbox if s.key and s.key.startswith("label_")))
    first = labels.value
    assert len(at.dataframe) == 3  # one prediction table per branch
    # switch to another label: evidence and counterfactual follow it
    code = next(o.split(" — ")[0] for o in labels.options if o.split(" — ")[0] != first)
    labels.set_value(code).run()
    assert not at.exception
    evidence = [m.value for m in at.markdown if m.value.startswith("**Prototype ")]
    assert 1 <= len(evidence) <= 3 and all("similarity" in e and "contribution" in e for e in evidence)
    # prototypes of other classes come with a note on why they are there (and only then)
    classes = {e.split(", class ")[1].split(")")[0] for e in evidence}
    note = [c.value for c in at.caption if c.value.startswith("Prototypes of other classes")]
    assert bool(note) == bool(classes - {code})
    shown = {m.label for m in at.metric}
    assert {"Heart rate", "PR", "QRS", "QT", "QTc (Bazett)"} <= shown
    assert {"Valid", "Leads changed", "Signal changed", "Model calls"} <= shown  # counterfactual metrics
    assert any(m.value.startswith("Counterfactual (") and code in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 2  # the case with matched windows + the counterfactual
    # attributions on demand (Integrated Gradients of the chosen label)
    at.toggle(key=f"attr_on_ptbxl:1_{code}").set_value(True).run()
    assert not at.exception
    assert any(f"Integrated Gradients of the {code} logit" in c.value for c in at.caption)
    # case feedback form -> database
    rid = "00001_lr"
    form = f"case_ptbxl_{rid}"
    at.text_input(key=f"{form}_reviewer").input("Dr Case")
    at.radio(key=f"{form}_agrees").set_value("partly")
    at.multiselect(key=f"{form}_missing").set_value(["IMI"])
    at.slider(key=f"{form}_useful").set_value(4)
    next(b for b in at.button if b.label == "Submit case feedback").click()
    at.run()
    assert not at.exception
    df = RatingsStore(app_env["PROTOECG_APP_DB"]).case_feedback()
    assert len(df) == 1
    row = df.iloc[0]
    assert (row.reviewer, row.record_id, row.record_source, row.agrees, row.missing_labels,
            row.explanation_useful, row.label) == ("Dr Case", rid, "ptbxl", "partly", "IMI", 4, code)


@pytest.mark.parametrize("stem, folder", [
    ("00001_lr", EXAMPLES),                                                  # PTB-XL .dat, 100 Hz
    ("E07500", APP_DIR.parent / "tests" / "fixtures" / "cinc2021"),          # CinC .mat, 500 Hz
])
def test_good_upload_is_explained(app_env, stem, folder):
    sig = ".mat" if (folder / f"{stem}.mat").exists() else ".dat"
    at = _upload(_page("case_review"), [(f"{stem}.hea", (folder / f"{stem}.hea").read_bytes()),
                                        (f"{stem}{sig}", (folder / f"{stem}{sig}").read_bytes())])
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.subheader[0].value == f"Record {stem}"
    assert "Predicted labels by branch" in _texts(at)


def test_broken_model_run_is_a_message_on_every_page(app_env, tmp_path, monkeypatch):
    broken = tmp_path / "broken_run"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}")
    monkeypatch.setenv("PROTOECG_APP_MODEL", str(broken))
    for name in ("case_review", "prototype_gallery", "model_card"):
        at = _page(name)
        assert any("not a complete model bundle" in e.value for e in at.error), name
    # the phenotype explorer does not need the model: it still shows its empty state
    at = _page("phenotype_explorer")
    assert any("No phenotype association results yet" in i.value for i in at.info)


def test_phenotype_explorer_shows_kaplan_meier_and_cox(app_env):
    """Survival outputs made the way `protoecg survival` makes them (lifelines via analysis.survival)."""
    import numpy as np

    from analysis import plots
    from analysis.phewas import PheWAS
    from analysis.phewas_sim import simulate_phewas
    from analysis.survival import cox_per_sd, km_by_quartile

    sim = simulate_phewas(n_units=400, n_phecodes=4, n_planted=1, seed=2)
    res = PheWAS().fit(sim.features, sim.phenotypes, sim.units).results_
    out = Path(app_env["PROTOECG_APP_RESULTS"])
    (out / "survival").mkdir(parents=True)
    res.to_csv(out / "results.csv", index=False)
    rng = np.random.default_rng(0)
    feat = sim.features["prob_C0"]
    surv = pd.DataFrame({"time_days": rng.exponential(300 / np.exp(feat.to_numpy())),
                         "event": (rng.uniform(size=len(feat)) < 0.7).astype(int),
                         "subject_id": sim.units["subject_id"]}, index=sim.features.index)
    cox = cox_per_sd(surv, sim.features[["prob_C0"]], sim.units[["age", "sex"]])
    cox.to_csv(out / "survival" / "survival.csv", index=False)
    plots.save_html(plots.kaplan_meier(km_by_quartile(surv, feat)), out / "survival" / "km_prob_C0.html")

    at = _page("phenotype_explorer")
    assert at.selectbox(key="ph_km").options == ["prob_C0"]
    cox_shown = next(d.value for d in at.dataframe if "hr_per_sd" in d.value.columns)
    assert cox_shown["hr_per_sd"].iloc[0] == pytest.approx(cox["hr_per_sd"].iloc[0])


# ---- prototype quality ------------------------------------------------------------------------

def test_bundle_holds_the_quality_report(tiny_bundle_dir, tmp_path):
    import json
    import shutil

    from protoecg.bundle import load_bundle

    for f in ("prototype_quality.csv", "prototype_neighbours.csv", "prototype_neighbours.npz"):
        assert (tiny_bundle_dir / f).exists(), f
    b = load_bundle(tiny_bundle_dir)
    q = b.metrics["prototype_quality"]
    assert q["n_projected"] == int((b.quality["status"] == "projected").sum()) > 0
    assert b.metrics["prototypes"]["n_repeated_windows"] == 0
    pid = b.neighbours["prototype_id"].iloc[0]
    assert b.neighbour_signal(pid, 1).shape[0] == 12
    old = tmp_path / "old"                          # a bundle written before the report still loads
    shutil.copytree(tiny_bundle_dir, old, ignore=shutil.ignore_patterns("prototype_*", "checkpoints"))
    shutil.copy(tiny_bundle_dir / "prototype_sources.npz", old)
    m = json.loads((old / "metrics.json").read_text())
    m.pop("prototype_quality")
    (old / "metrics.json").write_text(json.dumps(m))
    (old / "prototypes.csv").write_text(pd.read_csv(tiny_bundle_dir / "prototypes.csv").drop(
        columns="status").to_csv(index=False))
    assert load_bundle(old).quality is None


def test_model_card_shows_the_quality_table(app_env, tiny_bundle_dir):
    from protoecg.bundle import load_bundle

    at = _page("model_card")
    q = load_bundle(tiny_bundle_dir).metrics["prototype_quality"]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Purity (mean)"] == f"{q['purity']:.3f}"
    table = next(d.value for d in at.dataframe if "purity" in d.value.columns)
    present = {c for c, v in q["per_class"].items() if not v["absent_from_training"]}
    assert set(table["class"]) == present
    assert any("absent from the training data" in c.value for c in at.caption)


def test_gallery_sorts_by_purity_and_shows_neighbours(app_env, tiny_bundle_dir):
    from protoecg.bundle import load_bundle

    at = _page("prototype_gallery")
    branch = at.sidebar.selectbox(key="g_branch").value
    at.sidebar.selectbox(key=f"g_class_{branch}").set_value("(all classes)").run()
    at.sidebar.selectbox(key="g_sort").set_value("purity (high first)").run()
    assert not at.exception
    table = at.dataframe[0].value
    q = load_bundle(tiny_bundle_dir).quality
    expect = q[(q.branch == branch) & (q.status == "projected")].sort_values(
        ["purity", "prototype_id"], ascending=[False, True], kind="stable")
    assert list(table["prototype_id"]) == list(expect["prototype_id"])
    assert (table["status"] == "projected").all()              # unprojected prototypes hidden by default
    assert any(m.value.startswith("**#1** · ECG") for m in at.markdown)


@pytest.fixture(scope="module")
def clinical_files(tmp_path_factory):
    """One file per clinical format: MUSE/Philips(XLI)/aECG/EDF from a real PTB-XL signal, the real DICOM."""
    from tests.data_access.clinical_factory import real_mv, write_aecg, write_edf, write_muse, write_philips

    fx = APP_DIR.parent / "tests" / "fixtures"
    d = tmp_path_factory.mktemp("uploads")
    leads = real_mv(fx)
    return {"GE MUSE XML": write_muse(d / "muse_ecg.xml", leads),
            "Philips Sierra XML 1.03": write_philips(d / "philips_ecg.xml", leads, compress=True),
            "HL7 aECG": write_aecg(d / "aecg_ecg.xml", leads),
            "EDF": write_edf(d / "holter_ecg.edf", leads),
            "DICOM 12-lead ECG Waveform Storage": fx / "formats" / "waveform_ecg.dcm"}


@pytest.mark.parametrize("fmt", ["GE MUSE XML", "Philips Sierra XML 1.03", "HL7 aECG", "EDF",
                                 "DICOM 12-lead ECG Waveform Storage"])
def test_clinical_format_upload_is_explained_with_a_pdf(app_env, clinical_files, fmt):
    path = clinical_files[fmt]
    at = _upload(_page("case_review"), [(path.name, path.read_bytes())])
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.subheader[0].value == f"Record {path.stem}"
    text = _texts(at)
    assert "Predicted labels by branch" in text and f"**Format:** {fmt}" in text
    if fmt == "GE MUSE XML":
        assert any("III, aVR, aVL, aVF were not in the file" in c.value for c in at.caption)
    pdf = at.get("download_button")
    assert pdf and "Download PDF" in pdf[0].proto.label


def test_misnamed_or_broken_clinical_upload_is_a_message(app_env, clinical_files):
    muse = clinical_files["GE MUSE XML"].read_bytes()
    at = _upload(_page("case_review"), [("scan.dcm", muse[: len(muse) // 3])])   # truncated, wrong suffix
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "the XML is broken or truncated" in errors[0], errors
