"""One check of a bundle's settings before anything is built or trained.

A setting out of its range rarely fails at once: ``--learning_rate 0`` or ``--lambda_cycle -1`` trains to the end
and saves a useless model, ``--passes_per_epoch 0`` trains nothing, ``--latent_size 0`` fails an epoch later in a
figure. A bundle lists its settings with a rule each and calls :func:`check_settings` first in ``initialize``::

    "setting_rules": {"learning_rate": ["@learning_rate", "number > 0"],
                      "slicing": ["@slicing", ["axial", "sagittal"]]},
    "initialize": ["$monai_genmed.utils.check_settings(@setting_rules)", ...]

Layered configs add rules with ``"setting_rules#lambda_cycle": ["@lambda_cycle", "number >= 0"]``. Every bad
setting is named in one error, with the rule it breaks and the command-line spelling of the fix.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SettingRule", "check_setting", "check_settings"]

_RULE = re.compile(r"^\s*(?P<optional>optional\s+)?(?P<kind>bool|int|number|ints|numbers)\b\s*(?P<range>.*?)\s*$")
_COMPARISON = re.compile(r"^(?P<op>>=|<=|>|<)\s*(?P<bound>[-+]?(?:inf|[0-9.]+(?:e[-+]?[0-9]+)?))$")
_INTERVAL = re.compile(
    r"^in\s*(?P<open>[\[(])\s*(?P<low>[-+]?(?:inf|[0-9.]+(?:e[-+]?[0-9]+)?))\s*,"
    r"\s*(?P<high>[-+]?(?:inf|[0-9.]+(?:e[-+]?[0-9]+)?))\s*(?P<close>[\])])$"
)


class SettingRule:
    """A parsed rule: ``[optional] <kind> [<range>]``.

    ``kind`` is ``bool``, ``int``, ``number`` (int or float), or ``ints``/``numbers`` (a non-empty list of them,
    each in the range). The range is a comparison (``> 0``, ``>= 1``, ``< 1``) or an interval
    (``in [0, 1]``, ``in (0, 1]``, ``in [1, inf)``). ``optional`` also accepts ``None`` (the setting is off).
    A rule that is a list (not a string) is the list of allowed values.
    """

    def __init__(self, rule: str | Sequence[Any]):
        self.choices: tuple[Any, ...] | None = None
        self.optional = False
        self.kind = ""
        self.low, self.high = -math.inf, math.inf
        self.low_open = self.high_open = False
        self.range_text = ""
        if not isinstance(rule, str):
            if not isinstance(rule, (Sequence, set, frozenset)) or not len(rule):
                raise ValueError(
                    f"a setting rule is a string such as 'number > 0' or a list of allowed values, got {rule!r}."
                )
            self.choices = tuple(rule)
            return
        match = _RULE.match(rule)
        if match is None:
            raise ValueError(
                f"cannot read the setting rule {rule!r}; write e.g. 'number > 0', 'optional int >= 1', "
                "'ints in [1, 64]'."
            )
        self.optional = bool(match["optional"])
        self.kind = match["kind"]
        text = match["range"]
        self.range_text = text
        if not text:
            return
        if self.kind == "bool":
            raise ValueError(f"the setting rule {rule!r} gives a range to a bool.")
        comparison, interval = _COMPARISON.match(text), _INTERVAL.match(text)
        if comparison is not None:
            op, bound = comparison["op"], float(comparison["bound"])
            if op.startswith(">"):
                self.low, self.low_open = bound, op == ">"
            else:
                self.high, self.high_open = bound, op == "<"
        elif interval is not None:
            self.low, self.high = float(interval["low"]), float(interval["high"])
            self.low_open, self.high_open = interval["open"] == "(", interval["close"] == ")"
        else:
            raise ValueError(
                f"cannot read the range {text!r} of the setting rule {rule!r}; write '> 0', '>= 1' or 'in [0, 1)'."
            )

    def describe(self) -> str:
        """The rule in words, for messages."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        what = {"bool": "True or False", "int": "an integer", "number": "a number", "ints": "a list of integers",
                "numbers": "a list of numbers"}[self.kind]  # fmt: skip
        text = f"{what}{(' ' + self.range_text) if self.range_text else ''}"
        if self.kind in ("ints", "numbers") and self.range_text:
            text = f"{what}, each {self.range_text}"
        return f"{text}, or None" if self.optional else text

    def _in_range(self, x: float) -> bool:
        if math.isnan(x):
            return False
        above = x > self.low if self.low_open else x >= self.low
        below = x < self.high if self.high_open else x <= self.high
        return above and below

    def _scalar_ok(self, x: Any, integer: bool) -> bool:
        if isinstance(x, bool) or not isinstance(x, numbers.Real):  # True is an int to Python, not to a user
            return False
        if integer and not isinstance(x, numbers.Integral):
            return False
        return self._in_range(float(x))

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` keeps the rule."""
        if self.choices is not None:
            return any(value == c and isinstance(value, bool) == isinstance(c, bool) for c in self.choices)
        if value is None:
            return self.optional
        if self.kind == "bool":
            return isinstance(value, bool) or type(value).__name__ == "bool_"
        if self.kind in ("int", "number"):
            return self._scalar_ok(value, self.kind == "int")
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not len(value):
            return False
        return all(self._scalar_ok(v, self.kind == "ints") for v in value)


def check_setting(name: str, value: Any, rule: str | Sequence[Any] | SettingRule) -> str | None:
    """The problem with one setting in words (``None`` when it keeps ``rule``)."""
    rule = rule if isinstance(rule, SettingRule) else SettingRule(rule)
    if rule.accepts(value):
        return None
    hint = ""
    if isinstance(value, str) and rule.choices is None and rule.kind != "bool":
        hint = " (a string: on the command line write the number without quotes)"
    elif isinstance(value, str) and rule.kind == "bool" and value.lower() in ("true", "false"):
        hint = f" (a string: write --{name} {value.capitalize()}, capitalised)"
    return f"{name}={value!r} ({type(value).__name__}){hint} must be {rule.describe()}; pass --{name} <allowed value>"


def check_settings(*rules: Mapping[str, Sequence[Any]], context: str = "this run") -> dict[str, Any]:
    """Check settings against their rules at once; return ``{name: value}``.

    Args:
        rules: one or more mappings ``{name: (value, rule)}``, ``rule`` as :class:`SettingRule` reads it
            (``"number > 0"``, ``"optional int >= 1"``, ``"ints in [1, 512]"``, or a list of allowed values).
            ``name`` is the config key the user sets (``--name value``).
        context: what the settings are for, in the message ("training", "inference").

    Raises:
        ValueError: naming every setting that breaks its rule, its value, the allowed values and the fix.
    """
    problems, values = [], {}
    for mapping in rules:
        for name, entry in mapping.items():
            if not isinstance(entry, Sequence) or isinstance(entry, str) or len(entry) != 2:
                raise ValueError(f"setting rule of {name!r} must be [value, rule], got {entry!r}.")
            value, rule = entry
            values[name] = value
            problem = check_setting(name, value, rule)
            if problem is not None:
                problems.append(problem)
    if problems:
        shown = "\n  - ".join(problems)
        raise ValueError(
            f"{len(problems)} setting(s) would give a useless or failing {context}:\n  - {shown}\n"
            "Set each on the command line (--name value) or in a config file."
        )
    return values
