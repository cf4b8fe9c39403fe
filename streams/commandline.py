"""How every `postsale` command reads in `--help`: a usage line and option names a person can copy.

Typer tags each option with its Python type (`--dry-run <bool>`, `--broker <list[str]>`) and writes required
arguments in braces (`postsale replay [OPTIONS] {events}`). Here a flag shows no value at all, an option the
kind of value it takes (`--speed NUMBER`, `--policy FILE`, `--broker TEXT`), and the usage line the argument
in capitals, optional ones in brackets (`postsale explain [OPTIONS] ORDER_ID [EVENTS]`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_KIND: dict[object, str] = {int: "INTEGER", float: "NUMBER", Path: "FILE", str: "TEXT"}


def _kind(annotation: object) -> str:
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation) or (str,)
    return _KIND.get(annotation, "VALUE")


def _plain(params: list[Any]) -> list[Any]:
    for param in params:
        if isinstance(param, TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _kind(param.type_descriptor.annotation)
        elif isinstance(param, TyperArgument):
            # The argument's name is its column; Typer would add `<path>`, `<str>` beside it.
            param.display_type_rich = _no_type  # type: ignore[method-assign]
    return params


def _no_type(ctx: Any) -> None:
    return None


def _usage(command: TyperCommand | TyperGroup, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = (param.metavar or param.name or "").upper()
            pieces.append(name if param.required else f"[{name}]")
    return pieces


class PlainCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage(self, ctx)


class PlainGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _plain(super().get_params(ctx))


def plain_help(app: typer.Typer) -> typer.Typer:
    """Every command of `app` (registered so far) reads as this module says."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = PlainCommand
    return app
