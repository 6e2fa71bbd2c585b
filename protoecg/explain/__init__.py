"""Explanations of the prototype network: evidence, counterfactuals, Captum attributions.

Public API::

    from protoecg.explain import explain_ecg
    expl = explain_ecg(bundle, "path/to/record", counterfactual=True, attributions=False)
    expl.to_json()   # {"predictions", "evidence", "counterfactual", "timings_ms"}
"""
from .api import Explainer, explain_ecg, get_explainer, to_input
from .counterfactual import CFConfig, CounterfactualError, search_counterfactual
from .errors import ExplainError
from .types import (DEMO_BANNER, AttributionResult, CounterfactualResult, Explanation, LabelPrediction,
                    PrototypeEvidence)

__all__ = ["DEMO_BANNER", "AttributionResult", "CFConfig", "CounterfactualError", "CounterfactualResult",
           "ExplainError", "Explainer", "Explanation", "LabelPrediction", "PrototypeEvidence", "explain_ecg",
           "get_explainer", "search_counterfactual", "to_input"]
