"""The adsft rule engine: rule packs as YAML data, checked against ad messages and their briefs.

>>> from rules import load_pack
>>> pack = load_pack("en")
>>> pack.check("Open your account today.").passed
True
"""

from rules._native import COMPILED  # first: it decides whether the compiled modules may run
from rules.brief import Brief
from rules.loader import builtin_packs, load_pack
from rules.model import CATEGORIES, LEVELS, SCOPES, CheckResult, Message, Violation
from rules.pack import RulePack

__all__ = [
    "CATEGORIES",
    "COMPILED",
    "LEVELS",
    "SCOPES",
    "Brief",
    "CheckResult",
    "Message",
    "RulePack",
    "Violation",
    "builtin_packs",
    "load_pack",
]
