"""The Event Feed's `filter`: a subset of RSQL, parsed by a lark grammar and turned into SQL.

    filter     := or
    or         := and ("," and)*          (also the word `or`)
    and        := term (";" term)*        (also the word `and`)
    term       := comparison | "(" or ")"
    comparison := FIELD ("==" | "!=" | "=in=" | "=out=") argument
    argument   := value | "(" value ("," value)* ")"
    value      := a quoted string ('…' or "…", backslash escapes) or unreserved characters

Fields: `type` (the feed's versioned type), `subject` (the identifier of the shell, submodel or
concept description; for an element, of its submodel) and `data.semanticId.keys[*].value` (any key of
the subject's semanticId). The result is a condition on `event_outbox`, so the database applies it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError
from sqlalchemy import Boolean, ColumnElement, and_, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from titan_core.errors import BadRequest
from titan_core.store.tables import event_outbox, event_semantic_keys

_GRAMMAR = r"""
?start: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: term (_AND term)*
?term: comparison | "(" disjunction ")"
comparison: FIELD OPERATOR argument
argument: value | "(" value (_OR value)* ")"
?value: QUOTED -> quoted
      | UNRESERVED -> unreserved
_OR: "," | /\s+or\s+/
_AND: ";" | /\s+and\s+/
OPERATOR: "==" | "!=" | "=in=" | "=out="
FIELD: /[A-Za-z_][A-Za-z0-9_.]*(\[\*\][A-Za-z0-9_.]*)*/
QUOTED: /"(?:[^"\\]|\\.)*"/ | /'(?:[^'\\]|\\.)*'/
UNRESERVED: /[^\s"'();,=!~<>]+/
%ignore /\s+/
"""
_PARSER = Lark(_GRAMMAR, parser="lalr")

SEMANTIC_KEYS_FIELD = "data.semanticId.keys[*].value"
FIELDS = ("type", "subject", SEMANTIC_KEYS_FIELD)
OPERATORS = ("==", "!=", "=in=", "=out=")
MAX_FILTER_LENGTH = 4096


class _KeyedRows(ColumnElement[bool]):
    """Outbox rows with one of `values` among their semanticId keys.

    On PostgreSQL as `seq = ANY(ARRAY(SELECT seq …))`: the matching seqs come from the key table's
    (value, seq) index alone, and the page walks the outbox's seq index in order, stopping after
    `limit` rows. A plain `IN (SELECT …)` let the planner walk the seq index and probe the keys of
    every row (120 ms a page of 100 for a 1% filter over 100,000 events); matching by outbox id
    made it fetch every matching row to order them (76-90 ms under load): docs/performance.md,
    "Event Feed". Key rows not numbered yet have no seq, nor have their outbox rows: the feed
    shows only numbered rows either way.
    """

    type = Boolean()
    # The cache key is that of the `value IN (…)` condition, whose list is an expanding bound
    # parameter: every request with this filter shape reuses one compiled statement (compiling it
    # anew took 0.3 ms of CPU a page).
    _traverse_internals = [("matching", InternalTraversal.dp_clauseelement)]  # noqa: RUF012 (a SQLAlchemy class attribute)

    def __init__(self, values: list[str]) -> None:
        self.matching = event_semantic_keys.c.value.in_(values)


@compiles(_KeyedRows)
def _keyed_rows(element: _KeyedRows, compiler: Any, **kw: Any) -> str:
    ids = select(event_semantic_keys.c.outbox_id).where(element.matching)
    return str(compiler.process(event_outbox.c.id.in_(ids), **kw))


@compiles(_KeyedRows, "postgresql")
def _keyed_rows_postgresql(element: _KeyedRows, compiler: Any, **kw: Any) -> str:
    seqs = select(event_semantic_keys.c.seq).where(element.matching, event_semantic_keys.c.seq.is_not(None))
    subquery = compiler.process(seqs.scalar_subquery().self_group(), **kw)
    return f"{compiler.process(event_outbox.c.seq, **kw)} = ANY(ARRAY{subquery})"


def _equal_any(field: str) -> Callable[[list[str]], ColumnElement[bool]]:
    if field == "type":
        return lambda values: event_outbox.c.feed_type.in_(values)
    if field == "subject":
        return lambda values: event_outbox.c.titan_id.in_(values)
    return _KeyedRows


@v_args(inline=True)
class _ToSql(Transformer[Token, ColumnElement[bool]]):
    def quoted(self, token: Token) -> str:
        text = str(token)[1:-1]
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in text else text

    def unreserved(self, token: Token) -> str:
        return str(token)

    def argument(self, *values: str) -> list[str]:
        return list(values)

    def comparison(self, field: Token, operator: Token, values: list[str]) -> ColumnElement[bool]:
        name = str(field)
        if name not in FIELDS:
            raise BadRequest(f"filter field {name!r} is not supported; filterable: {', '.join(FIELDS)}")
        if operator in ("==", "!=") and len(values) != 1:
            raise BadRequest(f"filter operator {operator} takes one value; use =in= or =out= for a list")
        condition = _equal_any(name)(values)
        return not_(condition) if operator in ("!=", "=out=") else condition

    def conjunction(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        return and_(*conditions)

    def disjunction(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        return or_(*conditions)


def parse_feed_filter(text: str) -> ColumnElement[bool]:
    """The SQL condition of an RSQL filter; `BadRequest` says what was wrong and what is accepted."""
    if len(text) > MAX_FILTER_LENGTH:
        raise BadRequest(f"filter is longer than {MAX_FILTER_LENGTH} characters")
    try:
        tree = _PARSER.parse(text)
    except LarkError as error:
        raise BadRequest(
            f"filter {text!r} is not valid RSQL ({type(error).__name__}); write e.g. "
            f"type==io.admin-shell.submodel.updated.v1;{SEMANTIC_KEYS_FIELD}=in=('0173-1#02-AAO677#002','x'), "
            f"with fields {', '.join(FIELDS)} and operators {', '.join(OPERATORS)}"
        ) from None
    try:
        return _ToSql().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, BadRequest):
            raise error.orig_exc from None
        raise
