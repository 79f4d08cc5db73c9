"""Value types of the expression language.

The language has four types. `NUMBER` and `BOOL` are what signals and prices are
made of; `TIME` exists so that `hour(time)` type-checks while `time + 1` does not;
`STRING` appears only as a literal argument (a time-zone name).
"""

from __future__ import annotations

from enum import StrEnum


class ValueType(StrEnum):
    NUMBER = "number"
    BOOL = "boolean"
    TIME = "time"
    STRING = "string"
