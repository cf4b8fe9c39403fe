"""Instances of our frozen models built without validation, for values the engine itself made.

Validation belongs at the edge (events, a stored state, a policy file); inside the engine the rows build
states, deadlines and actions from values that were validated when they came in, with the declared types.
Validating them again was a sixth of a replay's time.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_new_object = object.__new__
_set_attr = object.__setattr__
# pydantic's BaseModel keeps these in slots; their descriptors set them without BaseModel.__setattr__ (frozen).
set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def unchecked(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """An instance of `cls` with `values` (every field, in declaration order), not validated. `fields_set` is
    shared, never mutated (the models are frozen)."""
    new = _new_object(cls)
    _set_attr(new, "__dict__", values)
    set_fields_set(new, fields_set)
    _set_extra(new, None)
    _set_private(new, None)
    return new


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def interned(names: AbstractSet[str]) -> set[str]:
    """One shared set per combination of field names (a few dozen combinations in practice)."""
    key = frozenset(names)
    shared = _FIELDS_SETS.get(key)
    if shared is None:
        shared = _FIELDS_SETS.setdefault(key, set(names))
    return shared


def template(cls: type[BaseModel]) -> dict[str, Any]:
    """Every field of `cls` in declaration order, with its default (None for a required field)."""
    return {name: None if field.is_required() else field.default for name, field in cls.model_fields.items()}
