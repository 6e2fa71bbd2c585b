"""protoecg clinician review app (Streamlit entry point).

Start it with ``protoecg app --model RUN``; the pages live in ``app/views/`` (not ``pages/``, which Streamlit would also serve on its own) and each can also run
on its own (that is how the page tests drive them).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

_PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="protoecg review", page_icon=":material/cardiology:", layout="wide")
nav = st.navigation([
    st.Page(_PAGES / "case_review.py", title="Case review", icon=":material/stethoscope:", default=True),
    st.Page(_PAGES / "prototype_gallery.py", title="Prototype gallery", icon=":material/view_module:"),
    st.Page(_PAGES / "phenotype_explorer.py", title="Phenotype explorer", icon=":material/monitoring:"),
    st.Page(_PAGES / "model_card.py", title="Model card", icon=":material/description:"),
])
nav.run()
