"""Java regular expressions (botocore ``pattern`` traits) for Python's `re`.

AWS's front ends check a member's ``pattern`` with ``java.util.regex`` and a
whole-string match. Most model patterns are valid Python as they stand; the
rest use Java-only syntax, which is rewritten here to mean the same thing:

- ``\\p{L}``, ``\\P{N}``, ``\\p{Alnum}``, ``\\p{IsAlphabetic}``... become explicit
  code point ranges (Unicode categories from `unicodedata`, POSIX classes
  ASCII-only as in Java);
- surrogate-pair escapes (``\\uD800\\uDC00``) become one code point, ``\\x{..}``,
  ``\\0ooo``, ``\\cX``, ``\\e`` become plain code points;
- ``\\z``/``\\Z``, ``\\h``/``\\v``/``\\R``, ``\\Q..\\E``, ``\\k<name>``,
  ``(?<name>..)`` get their Python spelling;
- in a class, ``-`` next to a class escape is a literal (``[\\w-.]``), nested
  classes are unions and ``&&`` is an intersection (done with lookaheads);
- ``\\w \\d \\s \\b`` are ASCII in Java, so patterns compile with re.ASCII.

Approximations, each erring on the permissive side: an unknown property
(scripts, blocks) matches any character; an inline flag group such as ``(?i)``
in mid-pattern applies to the whole pattern; a quantifier on an anchor
(``$?``) is dropped. A pattern that still won't compile is not enforced (and
logged once) rather than failing every request.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from typing import NamedTuple

__all__ = ["compile_pattern", "translate_java_regex"]

log = logging.getLogger(__name__)

_Ranges = tuple[tuple[int, int], ...]
_MAX_CP = 0x10FFFF


class Untranslatable(ValueError):
    """The pattern uses Java syntax this module cannot express in Python."""


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a Java `pattern` for `fullmatch`, or None when it can't be enforced."""
    try:
        translated, flags = translate_java_regex(pattern)
        return re.compile(translated, flags | re.ASCII)
    except (re.error, ValueError, IndexError, OverflowError) as exc:
        log.warning("model pattern %r is not enforced: %s", pattern, exc)
        return None


_INLINE_FLAGS = re.compile(r"\(\?([idmsuxU]*)(?:-([idmsuxU]*))?([:)])")
_QUANTIFIER = re.compile(r"(?:[*+?]|\{\d+(?:,\d*)?\})[?+]?")
_OCTAL = re.compile(r"[0-7]{1,3}")
_FLAG_BITS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def translate_java_regex(pattern: str) -> tuple[str, int]:
    """Translate a Java regex to Python's syntax; returns (pattern, re flags).

    Raises `Untranslatable` (a ValueError) for syntax it cannot express.
    """
    out: list[str] = []
    flags = 0
    i, end = 0, len(pattern)
    after_anchor = False
    while i < end:
        char = pattern[i]
        anchor = False
        if char == "\\":
            text, i, anchor = _escape(pattern, i)
            out.append(text)
        elif char == "[":
            text, i = _char_class(pattern, i)
            out.append(text)
        elif after_anchor and (quantifier := _QUANTIFIER.match(pattern, i)):
            i, anchor = quantifier.end(), True  # Java accepts `$?`; Python does not
        elif pattern.startswith("(?", i):
            match = _INLINE_FLAGS.match(pattern, i)
            if match is not None:
                on = "".join(f for f in match.group(1) if f in _FLAG_BITS)
                off = "".join(f for f in (match.group(2) or "") if f in _FLAG_BITS)
                if match.group(3) == ")":
                    for flag in on:  # Python takes global flags only up front
                        flags |= _FLAG_BITS[flag]
                else:
                    out.append(f"(?{on}-{off}:" if off else f"(?{on}:")
                i = match.end()
            elif pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
                out.append("(?P<")  # a named group
                i += 3
            else:
                out.append("(?")
                i += 2
        else:
            anchor = char in "^$"
            out.append(char)
            i += 1
        after_anchor = anchor
    return "".join(out), flags


_SPECIAL_ESCAPES: dict[str, tuple[str, bool]] = {
    "z": (r"\Z", True),
    "Z": (r"(?=\n?\Z)", True),
    "G": ("", True),
    "R": (r"(?:\r\n|[\n\x0b\x0c\r\x85\u2028\u2029])", False),
}
_HSPACE: _Ranges = ((0x09, 0x09), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680),
                    (0x180E, 0x180E), (0x2000, 0x200A), (0x202F, 0x202F),
                    (0x205F, 0x205F), (0x3000, 0x3000))  # fmt: skip
_VSPACE: _Ranges = ((0x0A, 0x0D), (0x85, 0x85), (0x2028, 0x2029))


def _escape(pattern: str, i: int) -> tuple[str, int, bool]:
    """The escape at pattern[i], outside a class: (Python text, next i, is anchor)."""
    if i + 1 >= len(pattern):
        raise Untranslatable("trailing backslash")
    kind = pattern[i + 1]
    ranges = _set_escape(pattern, i)
    if ranges is not None:
        return "[" + _render(ranges[0]) + "]", ranges[1], False
    if kind in "ux0ce":
        cp, i = _code_point_escape(pattern, i)
        return _char(cp), i, False
    if kind == "Q":
        stop = pattern.find("\\E", i + 2)
        literal = pattern[i + 2 :] if stop < 0 else pattern[i + 2 : stop]
        return re.escape(literal), len(pattern) if stop < 0 else stop + 2, False
    if kind == "k" and (stop := pattern.find(">", i)) > 0:
        return f"(?P={pattern[i + 3 : stop]})", stop + 1, False
    special = _SPECIAL_ESCAPES.get(kind)
    if special is not None:
        return special[0], i + 2, special[1]
    return pattern[i : i + 2], i + 2, kind in "AbB"


def _set_escape(pattern: str, i: int) -> tuple[_Ranges, int] | None:
    """\\p{..}, \\P{..}, \\h, \\H, \\v, \\V at pattern[i] as code point ranges."""
    kind = pattern[i + 1]
    if kind in "hHvV":
        ranges = _HSPACE if kind in "hH" else _VSPACE
        return (_complement(ranges) if kind.isupper() else ranges), i + 2
    if kind not in "pP":
        return None
    if pattern.startswith("{", i + 2):
        stop = pattern.find("}", i + 2)
        if stop < 0:
            raise Untranslatable("unterminated \\p{")
        name, i = pattern[i + 3 : stop], stop + 1
    else:
        name, i = pattern[i + 2 : i + 3], i + 3
    ranges = _property(name)
    return (_complement(ranges) if kind == "P" else ranges), i


def _code_point_escape(pattern: str, i: int) -> tuple[int, int]:
    """\\uXXXX (joining a surrogate pair), \\x{..}, \\xHH, \\0ooo, \\cX, \\e."""
    kind = pattern[i + 1]
    if kind == "u":
        cp = _hex(pattern[i + 2 : i + 6], 4)
        i += 6
        if 0xD800 <= cp <= 0xDBFF and pattern.startswith("\\u", i):
            low = _hex(pattern[i + 2 : i + 6], 4)
            if 0xDC00 <= low <= 0xDFFF:
                return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00), i + 6
        return cp, i
    if kind == "x":
        if pattern.startswith("{", i + 2):
            stop = pattern.index("}", i)
            return _hex(pattern[i + 3 : stop], 0), stop + 1
        return _hex(pattern[i + 2 : i + 4], 2), i + 4
    if kind == "c":
        return ord(pattern[i + 2]) ^ 64, i + 3
    if kind == "e":
        return 0x1B, i + 2
    digits = _OCTAL.match(pattern, i + 2)
    if digits is None:
        raise Untranslatable("bad octal escape")
    text = digits.group() if int(digits.group(), 8) <= 0o377 else digits.group()[:2]
    return int(text, 8), i + 2 + len(text)


def _hex(text: str, width: int) -> int:
    if (width and len(text) != width) or not text:
        raise Untranslatable("short hex escape")
    value = int(text, 16)
    if value > _MAX_CP:
        raise Untranslatable("code point out of range")
    return value


# -- character classes -------------------------------------------------------------


class _Item(NamedTuple):
    """One element of a class: a code point (`bare_dash` if an unescaped ``-``),
    a rendered set of ranges, a rendered atom (a negated nested class), or
    the ``&&`` operator."""

    kind: str  # "cp" | "set" | "atom" | "and"
    cp: int = 0
    bare_dash: bool = False
    text: str = ""


_AND = _Item("and")


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the class opening at pattern[i]; returns (Python atom, next i)."""
    items, negated, i = _class_items(pattern, i)
    operands: list[list[_Item]] = [[]]
    for item in items:
        if item.kind == "and":
            operands.append([])
        else:
            operands[-1].append(item)
    atoms = [_operand_atom(operand, negated and len(operands) == 1) for operand in operands]
    if len(atoms) == 1:
        return atoms[0], i
    if negated:
        raise Untranslatable("negated class intersection")
    return "(?:" + "".join(f"(?={atom})" for atom in atoms[1:]) + atoms[0] + ")", i


def _class_items(pattern: str, i: int) -> tuple[list[_Item], bool, int]:
    i += 1
    negated = pattern.startswith("^", i)
    i += negated
    items: list[_Item] = []
    first = True
    while True:
        if i >= len(pattern):
            raise Untranslatable("unterminated character class")
        char = pattern[i]
        if char == "]" and not first:
            return items, negated, i + 1
        first = False
        if char == "[":
            inner, inner_negated, i = _class_items(pattern, i)
            if not inner_negated and all(item.kind in ("cp", "set") for item in inner):
                items.extend(inner)  # a union: merge it in
            elif any(item.kind in ("and", "atom") for item in inner):
                raise Untranslatable("nested class too complex")
            else:
                items.append(_Item("atom", text=_operand_atom(inner, inner_negated)))
        elif pattern.startswith("&&", i):
            items.append(_AND)
            i += 2
        elif char == "\\":
            i = _class_escape(pattern, i, items)
        else:
            items.append(_Item("cp", ord(char), bare_dash=char == "-"))
            i += 1


_CLASS_CONTROLS = {"t": 9, "n": 10, "r": 13, "f": 12, "a": 7}


def _class_escape(pattern: str, i: int, items: list[_Item]) -> int:
    if i + 1 >= len(pattern):
        raise Untranslatable("trailing backslash")
    kind = pattern[i + 1]
    ranges = _set_escape(pattern, i)
    if ranges is not None:
        items.append(_Item("set", text=_render(ranges[0])))
        return ranges[1]
    if kind in "dDwWsS":
        items.append(_Item("set", text=pattern[i : i + 2]))
        return i + 2
    if kind in "ux0ce":
        cp, i = _code_point_escape(pattern, i)
        items.append(_Item("cp", cp))
        return i
    if kind == "Q":
        stop = pattern.find("\\E", i + 2)
        literal = pattern[i + 2 :] if stop < 0 else pattern[i + 2 : stop]
        items.extend(_Item("cp", ord(c)) for c in literal)
        return len(pattern) if stop < 0 else stop + 2
    control = _CLASS_CONTROLS.get(kind)
    if control is None and kind.isalnum():
        raise Untranslatable(f"unsupported escape \\{kind} in a class")
    items.append(_Item("cp", control if control is not None else ord(kind)))
    return i + 2


def _operand_atom(items: list[_Item], negated: bool) -> str:
    if any(item.kind == "atom" for item in items):
        if len(items) != 1 or negated:
            raise Untranslatable("class operand mixes a nested class")
        return items[0].text
    parts: list[str] = []
    index = 0
    while index < len(items):
        item = items[index]
        if item.kind == "set":
            parts.append(item.text)
            index += 1
        elif (
            index + 2 < len(items) and items[index + 1].bare_dash and items[index + 2].kind == "cp"
        ):
            high = items[index + 2].cp
            if high < item.cp:
                raise Untranslatable("reversed class range")
            parts.append(f"{_char(item.cp)}-{_char(high)}")
            index += 3
        else:
            parts.append(_char(item.cp))
            index += 1
    if not parts:
        raise Untranslatable("empty character class")
    return "[" + ("^" if negated else "") + "".join(parts) + "]"


def _char(cp: int) -> str:
    """A code point as regex text that is literal inside and outside a class."""
    if cp < 0x80 and chr(cp).isalnum():
        return chr(cp)
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _render(ranges: _Ranges) -> str:
    if not ranges:
        raise Untranslatable("empty character set")
    return "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges)


# -- Unicode and POSIX properties ----------------------------------------------------


def _union(*sets: _Ranges) -> _Ranges:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(r for ranges in sets for r in ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _complement(ranges: _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    start = 0
    for lo, hi in _union(ranges):
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX_CP:
        out.append((start, _MAX_CP))
    return tuple(out)


@functools.cache
def _categories() -> dict[str, _Ranges]:
    """Code point ranges per Unicode general category (one pass, ~0.1 s, once)."""
    found: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    previous, start = category("\0"), 0
    for cp in range(1, _MAX_CP + 1):
        current = category(chr(cp))
        if current != previous:
            found.setdefault(previous, []).append((start, cp - 1))
            previous, start = current, cp
    found.setdefault(previous, []).append((start, _MAX_CP))
    return {name: tuple(ranges) for name, ranges in found.items()}


def _category(name: str) -> _Ranges | None:
    table = _categories()
    if name == "LC":
        return _union(*(table.get(c, ()) for c in ("Lu", "Ll", "Lt")))
    if len(name) == 1:
        subsets = [ranges for cat, ranges in table.items() if cat[0] == name]
        return _union(*subsets) if subsets else None
    if len(name) == 2:
        return table.get(name, () if name in _KNOWN_CATEGORIES else None)
    return None


_KNOWN_CATEGORIES = frozenset(
    {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe"}
    | {"Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"}
)
_ASCII_PUNCT: _Ranges = ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E))
_POSIX: dict[str, _Ranges] = {
    "Lower": ((0x61, 0x7A),),
    "Upper": ((0x41, 0x5A),),
    "ASCII": ((0x00, 0x7F),),
    "Alpha": ((0x41, 0x5A), (0x61, 0x7A)),
    "Digit": ((0x30, 0x39),),
    "Alnum": ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)),
    "Punct": _ASCII_PUNCT,
    "Graph": ((0x21, 0x7E),),
    "Print": ((0x20, 0x7E),),
    "Blank": ((0x09, 0x09), (0x20, 0x20)),
    "Cntrl": ((0x00, 0x1F), (0x7F, 0x7F)),
    "XDigit": ((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)),
    "Space": ((0x09, 0x0D), (0x20, 0x20)),
    "all": ((0, _MAX_CP),),
    "L1": ((0, 0xFF),),
}
_WHITE_SPACE: _Ranges = _union(_VSPACE, _HSPACE, ((0x1C, 0x1F),))
# java.lang.Character predicates and Unicode binary properties (`\p{IsX}`), as
# unions of general categories; Alphabetic omits Other_Alphabetic marks.
_JAVA_PROPERTIES: dict[str, tuple[str, ...]] = {
    "alphabetic": ("L", "Nl", "Mn", "Mc"),
    "letter": ("L",),
    "digit": ("Nd",),
    "uppercase": ("Lu",),
    "lowercase": ("Ll",),
    "titlecase": ("Lt",),
    "punctuation": ("P",),
    "control": ("Cc",),
    "ideographic": ("Lo",),
    "letterordigit": ("L", "Nd"),
    "ld": ("L", "Nd"),
    "javaletter": ("L",),
    "javadigit": ("Nd",),
    "javaletterordigit": ("L", "Nd"),
    "javalowercase": ("Ll",),
    "javauppercase": ("Lu",),
}


@functools.cache
def _property(name: str) -> _Ranges:
    """The code points of `\\p{name}`; an unknown name matches everything."""
    if name in _POSIX:
        return _POSIX[name]
    bare = name
    for prefix in ("Is", "gc=", "general_category=", "General_Category="):
        if bare.startswith(prefix):
            bare = bare[len(prefix) :]
            break
    found = _category(bare)
    if found is not None:
        return found
    key = bare.replace("_", "").replace(" ", "").lower()
    if key in ("whitespace", "javawhitespace", "spacechar"):
        return _WHITE_SPACE
    if key == "hexdigit":
        return _POSIX["XDigit"]
    if key == "alnum":
        return _union(*(_category(c) or () for c in ("L", "Nl", "Mn", "Mc", "Nd")))
    categories = _JAVA_PROPERTIES.get(key)
    if categories is not None:
        return _union(*(_category(c) or () for c in categories))
    log.info("Java regex property \\p{%s} is approximated as any character", name)
    return ((0, _MAX_CP),)
