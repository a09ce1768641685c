"""Helpers shared by the lake's tests."""

from __future__ import annotations

import datetime as dt

from harmonise.lake import Lake

ZERO = dt.timedelta(0)


def visible(lake: Lake) -> dict[str, int]:
    return lake.table_counts()


def all_rows_in_files(lake: Lake, column: str) -> list[str]:
    """Every value of ``column`` in every Parquet file under the warehouse, referenced or not."""
    values: list[str] = []
    for path in lake.data_files():
        data = lake.open_file(path)
        if column in data.column_names:
            values += [v for v in data.column(column).to_pylist() if v is not None]
    return values
