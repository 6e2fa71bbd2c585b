"""Shared page furniture: configuration, model loading, the demo banner, error display."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from app.config import AppConfig, load_config
from app.resources import ModelUnavailable, load_bundle_cached, ratings_store
from protoecg.provenance import DEMO_DISCLAIMER, as_sentence
from protoecg.review.ratings import RatingsStore, RatingsStoreError

DEMO_BANNER = f"{as_sentence(DEMO_DISCLAIMER)} Its predictions say nothing about real patients."


@dataclass
class PageContext:
    cfg: AppConfig
    bundle: Any | None
    model_error: str | None

    @property
    def model_id(self) -> str:
        return str(self.cfg.model_dir) if self.cfg.model_dir else "no-model"


def page_setup(title: str, need_model: bool = True) -> PageContext:
    """Title, the demo banner when the model is a demo model, and the model (loaded once)."""
    cfg = load_config()
    st.title(title)
    bundle, err = None, None
    if cfg.model_dir is None:
        err = ("no model run configured: start the app with `protoecg app --model RUN` "
               "(or `make demo` for the demo model)")
    else:
        try:
            bundle = load_bundle_cached(str(cfg.model_dir))
        except ModelUnavailable as exc:
            err = str(exc)
    if bundle is not None and bool(getattr(bundle, "is_demo", False)):
        text = getattr(bundle, "disclaimer", None)
        st.warning(f"{as_sentence(text)} Its predictions say nothing about real patients." if text
                   else DEMO_BANNER, icon="⚠️")
    if err and need_model:
        st.error(err)
        st.stop()
    return PageContext(cfg, bundle, err)


def require_prototypes(bundle: Any) -> None:
    """Stop the page with a message when the model is a black-box baseline (nothing to review)."""
    if len(getattr(bundle, "prototypes", ())) == 0:
        st.error(f"This model run ({getattr(bundle, 'arch', 'unknown')} architecture) has no prototypes: "
                 "it is a black-box baseline, so there is no prototype evidence to review. Start the app "
                 "with a prototype network run (`protoecg train --arch protoecg`); the model card page "
                 "still shows its metrics.")
        st.stop()


def store_or_error(cfg: AppConfig) -> RatingsStore | None:
    """The ratings store, or None after showing why it cannot be opened."""
    try:
        return ratings_store(cfg.db_url)
    except RatingsStoreError as exc:
        st.error(f"Ratings cannot be saved: {exc}")
        return None


def reviewer_input(key: str = "reviewer_name") -> str:
    """Reviewer name, remembered for the session across pages."""
    if "reviewer" not in st.session_state:
        st.session_state["reviewer"] = ""
    name = st.text_input("Reviewer name", value=st.session_state["reviewer"], key=key,
                         help="Stored with every rating you submit.")
    return name.strip()


def remember_reviewer(name: str) -> None:
    st.session_state["reviewer"] = name


def fmt_ms(v: float | None) -> str:
    return "—" if v is None or v != v else f"{v:.0f} ms"
