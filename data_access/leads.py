"""The canonical 12-lead order and lead-name normalisation."""
from __future__ import annotations

from collections.abc import Sequence

from .errors import LeadError

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
_ALIASES.update({"MLII": "II", "D1": "I", "D2": "II", "D3": "III", "DI": "I", "DII": "II", "DIII": "III"})


def normalise_lead_name(name: str) -> str | None:
    """Map a lead name as written by any source (``AVR``, ``aVR``, ``avr``, `` V1 ``) to the canonical one.

    A leading ``lead`` word (``Lead II``) is ignored. Returns ``None`` for names that are not one of the
    12 standard leads.
    """
    key = name.strip().upper()
    if key.startswith("LEAD"):
        key = key[4:].strip(" _-")
    return _ALIASES.get(key)


def canonical_order(lead_names: Sequence[str], record: str | None = None) -> list[int]:
    """Indices that reorder ``lead_names`` into :data:`CANONICAL_LEADS` order.

    Raises :class:`LeadError` naming the problem: not exactly 12 leads, an unrecognised name,
    a duplicated lead (and therefore which one is missing).
    """
    names = [str(n) for n in lead_names]
    if len(names) != 12:
        raise LeadError(f"expected 12 leads, found {len(names)} ({', '.join(names)})", record)
    canon = [normalise_lead_name(n) for n in names]
    unknown = [n for n, c in zip(names, canon) if c is None]
    if unknown:
        raise LeadError(f"unrecognised lead name(s): {', '.join(repr(u) for u in unknown)}; "
                        f"expected the 12 standard leads {' '.join(CANONICAL_LEADS)}", record)
    dup = [c for c in CANONICAL_LEADS if canon.count(c) > 1]
    if dup:
        missing = [c for c in CANONICAL_LEADS if c not in canon]
        raise LeadError(f"duplicated lead(s): {', '.join(dup)}; missing lead(s): {', '.join(missing)}",
                        record)
    return [canon.index(lead) for lead in CANONICAL_LEADS]
