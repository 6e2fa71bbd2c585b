"""Comparator features: class aggregates and machine-statement concepts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.comparators import (class_aggregates, find_machine_measurements, machine_concepts,
                                  prototype_class_map, read_machine_measurements)
from data_access.errors import MetadataError


def test_class_aggregates():
    feats = pd.DataFrame({"sim_0": [1.0, 2.0], "sim_1": [3.0, 0.0], "sim_2": [5.0, 5.0]}, index=[10, 11])
    protos = pd.DataFrame({"prototype_id": [0, 1, 2, 9], "class": ["AFIB", "AFIB", "NORM", "NORM"]})
    agg = class_aggregates(feats, protos)
    assert list(agg.columns) == ["agg_mean_AFIB", "agg_max_AFIB", "agg_mean_NORM", "agg_max_NORM"]
    np.testing.assert_allclose(agg["agg_mean_AFIB"], [2.0, 1.0])
    np.testing.assert_allclose(agg["agg_max_AFIB"], [3.0, 2.0])
    np.testing.assert_allclose(agg["agg_max_NORM"], [5.0, 5.0])   # prototype 9 has no column: ignored
    assert prototype_class_map(protos)["sim_1"] == "AFIB"
    with pytest.raises(MetadataError, match="class"):
        class_aggregates(feats, protos.drop(columns="class"))


def test_machine_concepts_with_negation(tmp_path):
    mm = pd.DataFrame({"subject_id": [1, 2, 3, 4], "study_id": [100, 101, 102, 103],
                       "report_0": ["Atrial fibrillation", "Sinus rhythm", "No atrial fibrillation", None],
                       "report_1": ["Low QRS voltages in limb leads", "Left bundle branch block",
                                    "Inferior infarct - age undetermined", None],
                       "report_2": ["Abnormal ECG", "Abnormal ECG", "", "Normal ECG"]})
    (tmp_path / "ecg").mkdir()
    mm.to_csv(tmp_path / "ecg" / "machine_measurements.csv", index=False)
    path = find_machine_measurements(tmp_path)
    assert path == tmp_path / "ecg" / "machine_measurements.csv"
    c = machine_concepts(read_machine_measurements(path))
    assert list(c.index) == [100, 101, 102, 103]
    assert list(c["concept_atrial_fibrillation"]) == [1, 0, 0, 0]       # negated statement does not count
    assert list(c["concept_low_voltage"]) == [1, 0, 0, 0]
    assert list(c["concept_left_bundle_branch_block"]) == [0, 1, 0, 0]
    assert list(c["concept_infarct"]) == [0, 0, 1, 0]
    assert list(c["concept_normal_ecg"]) == [0, 0, 0, 1] and list(c["concept_abnormal_ecg"]) == [1, 1, 0, 0]
    assert find_machine_measurements(tmp_path / "ecg" / "missing") is None
    with pytest.raises(MetadataError, match="report_0"):
        machine_concepts(mm[["study_id"]])


def test_machine_concepts_are_tied_to_the_signatures_they_name():
    from analysis.recovery import tied_features

    feats = ["prob_LVOLT", "concept_low_voltage", "concept_atrial_fibrillation", "sim_3", "concept_infarct"]
    assert tied_features("LVOLT", feats, {"sim_3": "LVOLT"}) == ["prob_LVOLT", "concept_low_voltage", "sim_3"]
    assert tied_features("AFIB", feats, {"sim_3": "LVOLT"}) == ["concept_atrial_fibrillation"]
    assert tied_features("IMI", feats, {}) == ["concept_infarct"]
