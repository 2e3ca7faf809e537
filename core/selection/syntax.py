"""The asset selection language: a query string in, an `AssetSelection` out.

Two syntaxes are read, both with Dagster 1.13's meaning.

The current syntax (Dagster's UI and ``AssetSelection.from_string``)::

    query      := or_expr END
    or_expr    := and_expr (("or" | "OR") and_expr)*
    and_expr   := not_expr (("and" | "AND") not_expr)*
    not_expr   := ("not" | "NOT") not_expr | traversal
    traversal  := [NUMBER? "+"] atom ["+" NUMBER?]
    atom       := "key" ":" (QUOTED | pattern)
                | ("group" | "kind" | "owner") ":" value
                | "tag" ":" value ["=" value]
                | ("roots" | "sinks") "(" or_expr ")"
                | "(" or_expr ")"
                | QUOTED | pattern                    a bare value is a key
    value      := QUOTED | WORD
    pattern    := WORD and "*" written without spaces between them; "*" alone is every
                  asset, a "*" inside matches any characters (including "/")

A bare ``+`` walks every level, ``2+`` two levels up, ``+1`` one level down, ``+0``
none. Traversals bind tightest, then ``not``, then ``and``, then ``or``. Parentheses,
``roots(...)``/``sinks(...)`` and ``not`` nest at most ``MAX_DEPTH`` levels deep.

The older syntax (``dagster asset materialize --select``)::

    legacy     := clause ("," clause)* END           the clauses' union
    clause     := "*" | marks WORD marks
    marks      := "*" | "+"*                         "*" every level, each "+" one level

Which one a query uses is decided once, from its tokens: a query written with any mark
only the current syntax has (an attribute's ``:``, a quoted string, parentheses, ``=``,
or the word ``and``/``or``/``not`` in lower or upper case) is read as the current syntax; any
other query (bare keys, ``*`` and ``+`` glued to them, commas) as the older one. So
``+orders`` is one level up (older syntax) while ``+key:orders`` is every level up, and
``orders`` and ``*`` mean the same in both.

Tokens: WORD is a run of ``A-Z a-z 0-9 _ . / -``; NUMBER is a WORD of digits only;
QUOTED is ``"..."`` on one line; the rest are single characters ``* + : = ( ) ,``.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import NoReturn

from flowdev.errors import SelectionSyntaxError, close_matches
from flowdev.keys import AssetKey
from flowdev.records import record
from flowdev.selection.algebra import (
    AllSelection,
    AssetSelection,
    KeysAssetSelection,
    KeyWildCardAssetSelection,
    OrAssetSelection,
)
from flowdev.selection.graph import AssetGraph

_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_./-")
_PUNCTUATION = frozenset("*+:=(),")  # each is a token whose kind is the character
# Operators people bring from Python or SQL; the error names the word to use instead.
_FOREIGN_OPERATORS = {"&": "and", "|": "or", "!": "not", "~": "not"}
_ATTRIBUTES = ("key", "group", "tag", "kind", "owner")
_VALUE_NOUNS = {"group": "a group name", "tag": "a tag key", "kind": "a kind", "owner": "an owner"}
_BY_VALUE: dict[str, Callable[[str], AssetSelection]] = {
    "group": AssetSelection.groups,
    "kind": AssetSelection.kind,
    "owner": AssetSelection.owner,
}
_FUNCTIONS = ("roots", "sinks")
_KEYWORDS = frozenset({"and", "AND", "or", "OR", "not", "NOT"})
_CURRENT_SYNTAX_MARKS = frozenset({":", "QUOTED", "(", ")", "="})
_STARTS_SELECTION = frozenset({"WORD", "QUOTED", "*", "+", "("})
# Far above any query a person writes, far below Python's recursion limit: each level
# costs the parser a few frames, and resolving the selection a few more.
MAX_DEPTH = 100


@record
class _Token:
    kind: str
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def described(self) -> str:
        return "the end of the query" if self.kind == "END" else repr(self.text)


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(query):
        char = query[index]
        if char.isspace():
            index += 1
        elif char in _WORD_CHARS:
            start = index
            while index < len(query) and query[index] in _WORD_CHARS:
                index += 1
            tokens.append(_Token("WORD", query[start:index], start))
        elif char == '"':
            close = query.find('"', index + 1)
            newline = query.find("\n", index + 1)
            if close == -1 or -1 < newline < close:
                raise SelectionSyntaxError(query, index, "unterminated quoted string; add '\"'")
            tokens.append(_Token("QUOTED", query[index : close + 1], index))
            index = close + 1
        elif char in _PUNCTUATION:
            tokens.append(_Token(char, char, index))
            index += 1
        elif char in _FOREIGN_OPERATORS:
            word = _FOREIGN_OPERATORS[char]
            raise SelectionSyntaxError(query, index, f"unexpected {char!r}; write {word!r}")
        else:
            raise SelectionSyntaxError(
                query, index, f"unexpected character {char!r}; quote values that contain it"
            )
    tokens.append(_Token("END", "", len(query)))
    return tokens


def _uses_current_syntax(tokens: list[_Token]) -> bool:
    return any(
        token.kind in _CURRENT_SYNTAX_MARKS or (token.kind == "WORD" and token.text in _KEYWORDS)
        for token in tokens
    )


def _is_number(token: _Token) -> bool:
    return token.kind == "WORD" and token.text.isdigit()


def _key_selection(text: str, query: str) -> AssetSelection:
    if text == "*":
        return AllSelection()
    if "*" in text:
        return KeyWildCardAssetSelection(selected_key_wildcard=text)
    return KeysAssetSelection(selected_keys=(AssetKey.from_user_string(text),), query=query)


def _walked(selection: AssetSelection, up: int | None, down: int | None) -> AssetSelection:
    # Levels to walk each way: 0 none, None every level. Both ways is the union, as in
    # Dagster, not the upstream of the downstream.
    if up == 0 and down == 0:
        return selection
    if down == 0:
        return selection.upstream(up)
    if up == 0:
        return selection.downstream(down)
    return selection.upstream(up) | selection.downstream(down)


class _Reader:
    """A cursor over the tokens, shared by both parsers."""

    def __init__(self, query: str, tokens: list[_Token]) -> None:
        self.query = query
        self.tokens = tokens
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    @property
    def previous(self) -> _Token | None:
        return self.tokens[self.index - 1] if self.index else None

    def peek(self) -> _Token:
        return self.tokens[min(self.index + 1, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def glued(self) -> bool:
        """Whether the current token touches the previous one (no space between)."""
        previous = self.previous
        return previous is not None and previous.end == self.current.start

    def written_from(self, start: _Token, kinds: tuple[str, ...]) -> str:
        """The query text from ``start`` through the tokens of ``kinds`` glued after it."""
        end = start.end
        for later in self.tokens[self.tokens.index(start) + 1 :]:
            if later.start != end or later.kind not in kinds:
                break
            end = later.end
        return self.query[start.start : end]

    def fail(self, expected: str, at: _Token | None = None) -> NoReturn:
        position = (at or self.current).start
        raise SelectionSyntaxError(self.query, position, expected)

    def fail_expected(self, noun: str, after: str | None = None) -> NoReturn:
        """Fail where ``noun`` should have come (after ``after``, or the previous token)."""
        previous, current = self.previous, self.current
        if previous is None and current.kind == "END":
            self.fail("the query is empty; write '*' to select every asset")
        after = after or (previous.text if previous else None)
        where = f" after {after!r}" if after else ""
        found = "" if current.kind == "END" else f", found {current.described()}"
        self.fail(f"expected {noun}{where}{found}")


class _CurrentParser(_Reader):
    depth = 0

    def parse(self) -> AssetSelection:
        selection = self._parse_or()
        if self.current.kind != "END":
            self._fail_after_selection(opening=None)
        return selection

    def _at_keyword(self, *words: str) -> bool:
        return self.current.kind == "WORD" and self.current.text in words

    def _parse_or(self) -> AssetSelection:
        selection = self._parse_and()
        while self._at_keyword("or", "OR"):
            self.advance()
            selection = selection | self._parse_and()
        return selection

    def _parse_and(self) -> AssetSelection:
        selection = self._parse_not()
        while self._at_keyword("and", "AND"):
            self.advance()
            selection = selection & self._parse_not()
        return selection

    def _parse_not(self) -> AssetSelection:
        if self._at_keyword("not", "NOT"):
            self._enter_level()
            self.advance()
            inner = self._parse_not()
            self.depth -= 1
            return ~inner
        return self._parse_traversal()

    def _parse_traversal(self) -> AssetSelection:
        up: int | None = 0
        if _is_number(self.current) and self.peek().kind == "+":
            up = int(self.advance().text)
            self.advance()
        elif self.current.kind == "+":
            self.advance()
            up = None
        selection = self._parse_atom()
        down: int | None = 0
        if self.current.kind == "+":
            self.advance()
            down = int(self.advance().text) if _is_number(self.current) else None
        return _walked(selection, up, down)

    def _parse_atom(self) -> AssetSelection:
        token = self.current
        if token.kind == "(":
            return self._parse_parenthesised()
        if token.kind == "WORD" and self.peek().kind == ":":
            return self._parse_attribute()
        if token.kind == "WORD" and token.text in _FUNCTIONS and self.peek().kind == "(":
            self.advance()
            inner = self._parse_parenthesised()
            return inner.roots() if token.text == "roots" else inner.sinks()
        if token.kind == "QUOTED":
            self.advance()
            return _key_selection(token.text[1:-1], self.query)
        if token.kind in ("WORD", "*") and token.text not in _KEYWORDS:
            return _key_selection(self._read_pattern(), self.query)
        self.fail_expected("a selection")

    def _parse_parenthesised(self) -> AssetSelection:
        self._enter_level()
        opening = self.advance()
        if self.current.kind == ")":
            self.fail("expected a selection inside the parentheses")
        inner = self._parse_or()
        if self.current.kind != ")":
            self._fail_after_selection(opening)
        self.advance()
        self.depth -= 1
        return inner

    def _enter_level(self) -> None:
        # Every recursive production passes here, so no query can exhaust the stack.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"the query nests deeper than {MAX_DEPTH} levels; remove some '(' or 'not'")

    def _parse_attribute(self) -> AssetSelection:
        name = self.advance()
        self.advance()  # the ':'
        if name.text not in _ATTRIBUTES:
            suggestions = close_matches(name.text, _ATTRIBUTES, limit=1)
            hint = (
                f"did you mean {suggestions[0]!r}?"
                if suggestions
                else "use one of " + ", ".join(_ATTRIBUTES)
            )
            self.fail(f"unknown attribute {name.text!r}; {hint}", at=name)
        if name.text == "key":
            if self.current.kind == "QUOTED":
                return _key_selection(self._read_value("a key", "key:"), self.query)
            if self.current.kind not in ("WORD", "*"):
                self.fail_expected("a key", "key:")
            return _key_selection(self._read_pattern(), self.query)
        value = self._read_value(_VALUE_NOUNS[name.text], f"{name.text}:")
        if name.text in _BY_VALUE:
            return _BY_VALUE[name.text](value)
        if self.current.kind != "=":
            return AssetSelection.tag(value)
        self.advance()
        return AssetSelection.tag(value, self._read_value("a tag value", "="))

    def _read_pattern(self) -> str:
        text = self.advance().text
        while self.current.kind in ("WORD", "*") and self.glued():
            text += self.advance().text
        return text

    def _read_value(self, noun: str, after: str) -> str:
        token = self.current
        if token.kind not in ("QUOTED", "WORD"):
            self.fail_expected(noun, after)
        self.advance()
        value = token.text[1:-1] if token.kind == "QUOTED" else token.text
        if not value:
            self.fail(f"expected {noun} inside the quotes", at=token)
        if self.current.kind == ":" and self.glued():
            written = self.written_from(token, ("WORD", ":"))
            self.fail(f"quote a value that contains ':', as in {after}\"{written}\"")
        if self.current.kind == "*" and self.glued():
            self.fail("'*' is a wildcard only in key: values")
        return value

    def _fail_after_selection(self, opening: _Token | None) -> NoReturn:
        token = self.current
        if token.kind == "END" and opening is not None:
            self.fail(f"unclosed parenthesis opened at column {opening.start + 1}; add ')'")
        if token.kind == ")":
            self.fail("unmatched ')'; remove it or add '(' before the selection it closes")
        if token.kind == ",":
            self.fail("commas separate keys only in the older syntax; join selections with 'or'")
        if token.kind == "+":
            self.fail("a selection takes one '+' on each side; write '2+' for two levels")
        if token.kind in _STARTS_SELECTION:
            self.fail(f"expected 'and' or 'or' before {token.described()}")
        closing = "" if opening is None else f" or ')' (opened at column {opening.start + 1})"
        self.fail(f"expected 'and', 'or'{closing}, found {token.described()}")


class _LegacyParser(_Reader):
    last_key: _Token | None = None

    def parse(self) -> AssetSelection:
        clauses = [self._parse_clause()]
        while self.current.kind == ",":
            self.advance()
            clauses.append(self._parse_clause())
        if self.current.kind != "END":
            self._fail_after_clause()
        return clauses[0] if len(clauses) == 1 else OrAssetSelection(operands=tuple(clauses))

    def _parse_clause(self) -> AssetSelection:
        star, after_star = self.current, self.peek()
        if star.kind == "*" and not (after_star.kind == "WORD" and star.end == after_star.start):
            self.advance()
            return AllSelection()
        up_depth = self._read_marks()
        if self.current.kind != "WORD":
            self.fail_expected("an asset key")
        key = self.last_key = self.advance()
        down_depth = self._read_marks()
        return _walked(_key_selection(key.text, self.query), up_depth, down_depth)

    def _read_marks(self) -> int | None:
        if self.current.kind == "*":
            self.advance()
            return None
        levels = 0
        while self.current.kind == "+":
            self.advance()
            levels += 1
        return levels

    def _fail_after_clause(self) -> NoReturn:
        # Point those who wrote the current syntax's depths or wildcards without an
        # attribute (which makes the query read as the older syntax) at the spelling.
        token, previous, key = self.current, self.previous, self.last_key
        if key and previous and self.glued() and token.kind == "WORD":
            if previous.kind == "+" and token.text.isdigit():
                self.fail(
                    "a number after '+' sets a depth only in the current syntax; "
                    f"write key:{key.text}+{token.text}"
                )
            if previous.kind == "+" and key.text.isdigit():
                self.fail(
                    "a number before '+' sets a depth only in the current syntax; "
                    f"write {key.text}+key:{token.text}"
                )
            if previous.kind == "*":
                pattern = self.written_from(key, ("WORD", "*"))
                hint = f"write key:{pattern}"
                self.fail(f"'*' inside a key is a wildcard only in the current syntax; {hint}")
        if token.kind == "+" and previous and previous.kind == "*" and self.glued():
            self.fail("write either '*' (every level) or '+' marks (one level each), not both")
        self.fail(f"expected ',' between keys, found {token.described()}")


def parse_selection(query: str) -> AssetSelection:
    """Parse a query in either selection syntax (see the module docstring).

    Args:
        query: The query, e.g. ``'+key:"marts/orders" and not group:raw'`` or ``'*orders,b+'``.

    Returns:
        An `AssetSelection`; keys are checked against a graph only when it is resolved.

    Raises:
        SelectionSyntaxError: the query is malformed; the error gives the column and what
            was expected there.
    """
    tokens = _tokenize(query)
    if _uses_current_syntax(tokens):
        return _CurrentParser(query, tokens).parse()
    return _LegacyParser(query, tokens).parse()


def select(graph: AssetGraph, query: str) -> set[AssetKey]:
    """The keys of ``graph`` that ``query`` selects.

    Raises:
        SelectionSyntaxError: the query is malformed.
        UnknownAssetError: an exact key in the query names no asset.
    """
    return parse_selection(query).resolve(graph)
