"""A HIT's rows written in one statement, without a model instance per row.

Every HIT cycle inserts a few dozen rows (the grid's places when a HIT is leased, one vote per
image when it is submitted). ``bulk_create`` builds and prepares a model instance per row, which
on the worker API's hot path cost more Python than the statement costs PostgreSQL (issue 16).
The values here are plain integers, booleans and short strings, passed as parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


def rows_insert(
    model: type[Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    now: Sequence[str] = (),
) -> int:
    """INSERT ``rows`` (one value per name in ``fields``, in order) into ``model``'s table in one
    statement; the ``now`` fields get the statement's ``CURRENT_TIMESTAMP`` (the transaction's
    start on PostgreSQL). Every other column must have a database default or allow NULL.
    Returns the number of rows. Database errors (e.g. a unique constraint) are raised as
    Django's, as from ``bulk_create``."""
    rows = list(rows)
    if not rows:
        return 0
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [quote(meta.get_field(name).column) for name in (*fields, *now)]
    one = "(" + ", ".join(["%s"] * len(fields) + ["CURRENT_TIMESTAMP"] * len(now)) + ")"
    statement = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(columns)}) "  # noqa: S608 - names from the model
        f"VALUES {', '.join([one] * len(rows))}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [value for row in rows for value in row])
    return len(rows)
