"""The canonical 12-lead order and lead-name normalisation."""
from __future__ import annotations

CANONICAL_LEADS: tuple[str, ...] = (
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
)

# Anatomical groups used to summarise which leads drove a match.
LEAD_GROUPS: dict[str, tuple[str, ...]] = {
    "lateral": ("I", "aVL", "V5", "V6"),
    "inferior": ("II", "III", "aVF"),
    "septal": ("V1", "V2"),
    "anterior": ("V3", "V4"),
    "aVR": ("aVR",),
}

_ALIASES = {name.upper(): name for name in CANONICAL_LEADS}
_ALIASES.update({"MLII": "II", "D1": "I", "D2": "II", "D3": "III"})


def normalise_lead_name(name: str) -> str | None:
    """Map a lead name as written by any source (``AVR``, ``aVR``, ``avr``, `` V1 ``) to the canonical one.

    Returns ``None`` for names that are not one of the 12 standard leads.
    """
    return _ALIASES.get(name.strip().upper())
