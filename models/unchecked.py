"""Instances of our frozen models built without validation, for values the engine itself made.

Validation belongs at the edge (events, a stored state, a policy file); inside the engine the rows build
states, deadlines and actions from values that were validated when they came in, with the declared types.
Validating them again was a sixth of a replay's time.
"""

from __future__ import annotations

from collections.abc import Iterable
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


_WIDER: dict[tuple[int, tuple[str, ...]], set[str]] = {}
_WIDER_MAX = 4096


def interned_with(fields_set: set[str], names: Iterable[str]) -> set[str]:
    """`interned(fields_set | names)`, remembered per (set, names) when `fields_set` is one of the shared sets: a
    state's first change of a field makes one, for every order, and building the union and its frozenset each time
    was most of the cost of such a change.

    Keyed by the shared set's id: the shared sets are never freed, so no other object can have the id of one."""
    names = tuple(names)
    key = (id(fields_set), names)
    wider = _WIDER.get(key)
    if wider is None:
        wider = interned(fields_set | set(names))
        if _FIELDS_SETS.get(frozenset(fields_set)) is fields_set:  # one of the shared sets: its id is stable
            if len(_WIDER) >= _WIDER_MAX:
                _WIDER.clear()
            _WIDER[key] = wider
    return wider
