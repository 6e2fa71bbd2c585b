import pytest

from data_access.errors import LeadError
from data_access.leads import CANONICAL_LEADS, canonical_order, normalise_lead_name


@pytest.mark.parametrize("raw,canon", [("AVR", "aVR"), ("aVR", "aVR"), ("avl", "aVL"), (" V1 ", "V1"),
                                       ("Lead II", "II"), ("MLII", "II"), ("D3", "III"), ("v6", "V6")])
def test_normalise_lead_name(raw, canon):
    assert normalise_lead_name(raw) == canon


@pytest.mark.parametrize("raw", ["V7", "X", "", "aVX", "V"])
def test_unknown_names_are_none(raw):
    assert normalise_lead_name(raw) is None


def test_canonical_order_reorders_any_permutation():
    shuffled = ["V6", "avf", "I", "V3", "AVR", "II", "V1", "aVL", "V5", "III", "V2", "V4"]
    order = canonical_order(shuffled)
    assert [normalise_lead_name(shuffled[i]) for i in order] == list(CANONICAL_LEADS)


def test_canonical_order_names_missing_lead_when_duplicated():
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V1", "V3", "V4", "V5", "V6"]
    with pytest.raises(LeadError, match=r"duplicated lead\(s\): V1; missing lead\(s\): V2"):
        canonical_order(names, record="r1")
