"""Plotly figures for PheWAS and survival."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import plots
from analysis.phewas import PheWAS
from analysis.phewas_sim import simulate_phewas
from analysis.survival import km_by_quartile


def test_phewas_figures_and_html(tmp_path):
    s = simulate_phewas(n_units=800, n_classes=3, protos_per_class=2, n_phecodes=6, n_planted=2, effect=1.2)
    pw = PheWAS().fit(s.features, s.phenotypes, s.units[["age", "sex"]], s.phecode_info)
    man = pw.plot_manhattan(note="demo")
    n_cat = pw.results_["category"].nunique()
    assert pw.n_hits_ > 0 and len(man.data) == n_cat + 1       # one trace per category + the ringed hits
    assert sum(len(t.x) for t in man.data[:n_cat]) == pw.n_tests_
    assert len(man.data[-1].x) == pw.n_hits_ and man.data[-1].name.startswith("hit (hierarchical")
    assert any(getattr(sh, "y0", None) is not None for sh in man.layout.shapes)   # Bonferroni line
    # a table without the two-stage columns (plain BH) gets the BH line instead of rings
    bh = plots.manhattan(pw.results_.drop(columns=["hit"]))
    assert len(bh.data) == n_cat and len(bh.layout.shapes) == 2
    assert "demo" in man.layout.title.text
    vol = pw.plot_volcano()
    assert sum(len(t.x) for t in vol.data) == pw.n_tests_
    assert len(vol.data[1].x) == pw.n_hits_
    fo = pw.plot_forest(top=5)
    assert len(fo.data[0].x) == 5
    assert np.all(np.array(fo.data[0].x) == pw.summary["odds_ratio"].head(5).to_numpy())
    path = plots.save_html(man, tmp_path / "sub" / "manhattan.html")
    text = path.read_text()
    assert "plotly" in text.lower() and "PheWAS Manhattan plot" in text


def test_kaplan_meier_figure():
    rng = np.random.default_rng(0)
    n = 200
    idx = pd.Index(range(n))
    x = pd.Series(rng.standard_normal(n), index=idx, name="prob_X")
    surv = pd.DataFrame({"time_days": rng.exponential(300, n), "event": rng.integers(0, 2, n),
                         "subject_id": np.arange(n)}, index=idx)
    km = km_by_quartile(surv, x)
    fig = plots.kaplan_meier(km)
    assert [t.name for t in fig.data] == ["Q1", "Q2", "Q3", "Q4"]
    assert "at risk" in fig.layout.annotations[0].text
