"""actorschema.compat.rules: the rule table is the one place a rule is declared, and every rule the comparison reports is in it."""

from __future__ import annotations

import re
from pathlib import Path

import actorschema.compat
from actorschema.compat import CATEGORIES, RULES

PACKAGE = Path(actorschema.compat.__file__).parent


def test_every_rule_is_in_exactly_one_category() -> None:
    listed = [rule for rules in CATEGORIES.values() for rule in rules]
    assert sorted(listed) == sorted(RULES)  # none missing, none twice, none unknown


def test_every_rule_id_the_comparison_names_is_in_the_table() -> None:
    """A rule id spelt in a check but missing from RULES (or the reverse) is a rule half added."""
    source = "\n".join(path.read_text() for path in sorted(PACKAGE.glob("*.py")) if path.name != "rules.py")
    named = set(re.findall(r'Found\(\s*"([A-Z_]+)"', source))
    named |= set(re.findall(r'Change\(actor, "([A-Z_]+)"', source))
    # PARAMETER_/FIELD_ x ADDED_REQUIRED/ADDED_OPTIONAL/REMOVED are built from their parts.
    assert re.search(r'f"\{kind\}_ADDED_\{label\}"', source) and re.search(r'f"\{kind\}_REMOVED"', source)
    named |= {
        f"{kind}_{what}"
        for kind in ("PARAMETER", "FIELD")
        for what in ("ADDED_REQUIRED", "ADDED_OPTIONAL", "REMOVED")
    }
    assert named == set(RULES)
