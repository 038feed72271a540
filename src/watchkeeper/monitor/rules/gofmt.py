"""Go's number formatting, so templated text matches what Prometheus prints byte for byte.

Python's ``%g`` and ``repr`` differ from Go's ``%v`` / ``strconv.FormatFloat(v, 'g', -1)``
(``1234567.0`` vs ``1.234567e+06``) and Go spells infinities ``+Inf``; the humanize
functions of Prometheus' templates are defined in terms of Go's ``%.4g``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

__all__ = ["go_float", "go_float_e", "go_printf", "go_value"]

_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def _special(v: float) -> str | None:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return None


def _shortest_digits(v: float) -> tuple[str, int]:
    """(digits, exponent) of the shortest round-trip decimal: v = d.ddd x 10^exponent."""
    text = repr(abs(v))
    if "e" in text:
        m, _, e = text.partition("e")
        digits, exponent = m.replace(".", ""), int(e)
    else:
        whole, _, frac = text.partition(".")
        if whole != "0":
            digits, exponent = whole + frac, len(whole) - 1
        else:
            stripped = frac.lstrip("0")
            digits, exponent = stripped, -(len(frac) - len(stripped)) - 1
    return digits.rstrip("0") or "0", exponent


def _exp_form(sign: str, digits: str, exponent: int) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mant}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def go_float(v: float) -> str:
    """Go's ``%v`` of a float64 (= ``strconv.FormatFloat(v, 'g', -1, 64)``)."""
    special = _special(v)
    if special is not None:
        return special
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    digits, exponent = _shortest_digits(v)
    sign = "-" if v < 0 else ""
    # strconv: with the shortest digits, %e is used when exp < -4 || exp >= 6.
    if exponent < -4 or exponent >= 6:
        return _exp_form(sign, digits, exponent)
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{digits}"
    if len(digits) <= exponent + 1:
        return f"{sign}{digits}{'0' * (exponent + 1 - len(digits))}"
    return f"{sign}{digits[: exponent + 1]}.{digits[exponent + 1 :]}"


def go_float_e(v: float) -> str:
    """``strconv.FormatFloat(v, 'e', -1, 64)``: how Prometheus' API prints an alert's value."""
    special = _special(v)
    if special is not None:
        return special
    if v == 0:
        return "0e+00"
    digits, exponent = _shortest_digits(v)
    return _exp_form("-" if v < 0 else "", digits, exponent)


def go_value(value: object) -> str:
    """How Go's text/template prints a value (``fmt.Sprint``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_value(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if value is None:
        return "<no value>"
    return str(value)


def _format_one(flags: str, width: str | None, prec: str | None, verb: str, arg: object) -> str:
    spec = f"%{flags}{width or ''}{'.' + prec if prec is not None else ''}"
    if verb in "eEfFgG":
        if isinstance(arg, bool) or not isinstance(arg, int | float):
            return f"%!{verb}({type(arg).__name__}={go_value(arg)})"
        v = float(arg)
        special = _special(v)
        if special is not None:
            text = special if ("+" in flags or v < 0 or special == "NaN") else special[1:]
            return text.rjust(int(width)) if width else text
        if verb in "gG" and prec is None:
            text = go_float(v)
            if "+" in flags and v >= 0:
                text = "+" + text
            return text.rjust(int(width)) if width and "-" not in flags else text
        return (spec + verb) % v
    if verb == "d":
        if isinstance(arg, bool) or not isinstance(arg, int):
            kind = "float64" if isinstance(arg, float) else type(arg).__name__
            return f"%!d({kind}={go_value(arg)})"
        return (spec + "d") % arg
    if verb in "xXo":
        if isinstance(arg, int) and not isinstance(arg, bool):
            return (spec + verb) % arg
        if isinstance(arg, str):
            return (spec + verb) % int.from_bytes(arg.encode(), "big") if arg else ""
        return f"%!{verb}({type(arg).__name__}={go_value(arg)})"
    if verb == "q":
        text = '"' + go_value(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
        return (spec + "s") % text
    if verb == "t":
        return (spec + "s") % go_value(arg)
    # %s and %v print any value the Go way.
    text = go_value(arg)
    if prec is not None and verb == "s":
        text = text[: int(prec)]
    return (f"%{flags}{width or ''}s") % text


def go_printf(fmt: str, args: Sequence[object]) -> str:
    """``fmt.Sprintf`` for the verbs templates use (%s %v %d %f %e %g %x %q %t %%)."""
    out: list[str] = []
    pos = 0
    i = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if "." in m.group(0) and prec is None:
            prec = "0"
        if i >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format_one(flags, width, prec, verb, args[i]))
        i += 1
    out.append(fmt[pos:])
    if i < len(args):
        extra = ", ".join(f"{type(a).__name__}={go_value(a)}" for a in args[i:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
