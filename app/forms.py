"""The clinician rating form (reference study) and the case-level feedback form.

Each form keeps a client-side submission id in the session; it changes only after the rating is
stored, so a resubmission of the same form after an error never creates a second row.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from app.ui import remember_reviewer, reviewer_input
from protoecg.review.ratings import (CaseFeedback, PrototypeRating, RatingError, RatingsStore,
                                     RatingsStoreError, new_submission_id)


def _submission_id(key: str) -> str:
    sid_key = f"_sid_{key}"
    if sid_key not in st.session_state:
        st.session_state[sid_key] = new_submission_id()
    return st.session_state[sid_key]


def _rotate(key: str) -> None:
    st.session_state[f"_sid_{key}"] = new_submission_id()


def _save(store: RatingsStore, item: PrototypeRating | CaseFeedback, form_key: str) -> bool:
    try:
        if isinstance(item, PrototypeRating):
            stored = store.add_prototype_rating(item)
        else:
            stored = store.add_case_feedback(item)
    except (RatingError, RatingsStoreError) as exc:
        st.error(f"Not saved: {exc}")
        return False
    _rotate(form_key)
    remember_reviewer(item.reviewer)
    st.success("Rating saved." if stored else "This submission was already saved.")
    return True


def _submit(store: RatingsStore, form_key: str, reviewer: str,
            build: Callable[[], PrototypeRating | CaseFeedback]) -> bool:
    """The common end of both forms: require a reviewer, validate the submission, store it."""
    if not reviewer:
        st.error("Not saved: enter your name as reviewer.")
        return False
    try:
        item = build()
    except RatingError as exc:
        st.error(f"Not saved: {exc}")
        return False
    return _save(store, item, form_key)


def prototype_rating_form(store: RatingsStore, model_id: str, prototype_id: str, branch: str,
                          class_code: str, class_choices: Sequence[str]) -> None:
    """Accurate yes/no (+ suggested class), representativeness 1-5, clarity 1-5, comment, flags."""
    form_key = f"rate_{prototype_id}"
    with st.form(form_key, clear_on_submit=False):
        st.markdown(f"**Rate prototype {prototype_id}** (class {class_code}, {branch} branch)")
        reviewer = reviewer_input(key=f"{form_key}_reviewer")
        accurate = st.radio("Is the prototype an accurate example of its class?", ("yes", "no"),
                            horizontal=True, key=f"{form_key}_accurate")
        others = [c for c in class_choices if c != class_code]
        suggested = st.selectbox("If not: which class does it show?", ["(none)", *others],
                                 key=f"{form_key}_suggested")
        rep = st.slider("Representativeness (1 = atypical, 5 = textbook)", 1, 5, 3,
                        key=f"{form_key}_rep")
        clarity = st.slider("Clarity (1 = unreadable, 5 = very clear)", 1, 5, 3,
                            key=f"{form_key}_clarity")
        comment = st.text_area("Comment", key=f"{form_key}_comment")
        c1, c2 = st.columns(2)
        best = c1.checkbox("Best prototype of this class", key=f"{form_key}_best")
        bad = c2.checkbox("Bad prototype (should be removed)", key=f"{form_key}_bad")
        submitted = st.form_submit_button("Submit rating")
    if submitted:
        _submit(store, form_key, reviewer, lambda: PrototypeRating(
            reviewer=reviewer, model_id=model_id, prototype_id=str(prototype_id), branch=branch,
            class_code=class_code, accurate=accurate == "yes",
            suggested_class=None if accurate == "yes" or suggested == "(none)" else suggested,
            representativeness=int(rep), clarity=int(clarity), comment=comment.strip(),
            best=bool(best), bad=bool(bad), submission_id=_submission_id(form_key)))


def case_feedback_form(store: RatingsStore, model_id: str, record_id: str, record_source: str,
                       label: str | None, label_choices: Sequence[str]) -> None:
    """Does the reviewer agree with the predictions; missing/wrong labels; usefulness 1-5; comment."""
    form_key = f"case_{record_source}_{record_id}"
    with st.form(form_key, clear_on_submit=False):
        st.markdown(f"**Case feedback for {record_id}**")
        reviewer = reviewer_input(key=f"{form_key}_reviewer")
        agrees = st.radio("Do you agree with the predicted labels?", ("yes", "partly", "no"),
                          horizontal=True, key=f"{form_key}_agrees")
        missing = st.multiselect("Labels the model missed", list(label_choices),
                                 key=f"{form_key}_missing")
        wrong = st.multiselect("Predicted labels that are wrong", list(label_choices),
                               key=f"{form_key}_wrong")
        useful = st.slider("How useful was the explanation? (1 = not at all, 5 = very)", 1, 5, 3,
                           key=f"{form_key}_useful")
        comment = st.text_area("Comment", key=f"{form_key}_comment")
        submitted = st.form_submit_button("Submit case feedback")
    if submitted:
        _submit(store, form_key, reviewer, lambda: CaseFeedback(
            reviewer=reviewer, model_id=model_id, record_id=record_id, record_source=record_source,
            agrees=agrees, explanation_useful=int(useful), label=label,
            missing_labels=";".join(missing), wrong_labels=";".join(wrong),
            comment=comment.strip(), submission_id=_submission_id(form_key)))
