"""Clinical paper-ECG rendering: interactive (Plotly) and static (matplotlib) with shared mm geometry."""
from .geometry import (GAIN_MM_MV, GRID_ROWS, SPEED_MM_S, Overlay, PaperLayout, Panel, stacked_layout,
                       standard_layout)
from .paper_ecg import (add_attribution_bands, add_counterfactual, add_matched_windows, add_overlays,
                        attribution_overlays, paper_ecg_figure)
from .static import paper_ecg_matplotlib, save_paper_ecg

__all__ = ["GAIN_MM_MV", "GRID_ROWS", "SPEED_MM_S", "Overlay", "PaperLayout", "Panel", "stacked_layout",
           "standard_layout", "add_attribution_bands", "add_counterfactual", "add_matched_windows",
           "add_overlays", "attribution_overlays", "paper_ecg_figure", "paper_ecg_matplotlib",
           "save_paper_ecg"]
