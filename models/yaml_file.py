"""Reading a YAML file a store writes by hand (the policy, executor.yaml): its data and node tree, or a
`FileError` whose every problem names the file, the line and the field.

These files are small and edited by people, so whatever a person would not write is refused before it
costs memory, time or a traceback, each as one line:

- more than `MAX_BYTES`, 512 KiB: the shipped policy is 3 KB, and 200 marketplace overrides of every
  field would be 300 KB;
- more than `MAX_NODES` keys and values, 20,000 (the shipped policy has 200; 200 overrides that each set
  every field have 14,000), counted before the tree is built: building it is what costs;
- nesting deeper than `MAX_DEPTH` (20 mappings or lists; the deepest field postsale reads is 5 down);
- a key given twice in one mapping (YAML would keep the last silently): both lines are named;
- bytes that are not UTF-8, and characters YAML does not allow (control characters);
- tags (`!!python/...`, `!custom`) and anchors or aliases (`&a`, `*a`: a few lines can expand to gigabytes);
- anything else that is not YAML, with the line the parser stopped at.

PyYAML's C parser reads the events once to check depth, tags and aliases (it is iterative, so a hostile
nesting cannot exhaust the stack), then composes the node tree, whose marks give every value's line.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

MAX_BYTES = 512 * 1024
MAX_DEPTH = 20
MAX_NODES = 20_000
MAX_TEXT = 200
"""Longest a field name or message from the file is quoted in an error (a 1 MB key is shown cut)."""
MAX_PROBLEMS = 20
"""Problems listed at most (then "and N more"): the first ones are what a person fixes first."""

Problem = tuple[int | None, str, str]
"""(1-based line, field path, message); the line is None only for the file as a whole (unreadable, too large)."""
_TOO_LARGE = f"larger than {MAX_BYTES // 1024} KiB: a hand-written file is far smaller"

_Parser: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Parser):  # type: ignore[valid-type,misc]
    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            # A scalar PyYAML resolved but cannot build: a date like 2026-13-45, an int of 5,000 digits.
            raise _Refused(node.start_mark.line + 1, "", f"cannot read this value ({type(exc).__name__})") from None


class FileError(ValueError):
    """A file that cannot be used; `problems` lists (line or None, field path, message).

    One problem is one line: `policy store.yaml is invalid: line 3, defaults.handling_time_hours: …`.
    Several are a heading and one line each."""

    kind: ClassVar[str] = "file"

    def __init__(self, source: str, problems: Sequence[Problem], more: int = 0) -> None:
        self.source = source
        self.problems = [(line, clean(field), clean(message)) for line, field, message in problems]
        items = [message if line is None and not field else
                 f"{'' if line is None else f'line {line}, '}{field or '(top level)'}: {message}"
                 for line, field, message in self.problems]  # fmt: skip
        if more > 0:
            items.append(f"and {more} more")
        if len(items) == 1:
            text = f"{self.kind} {clean(source)} is invalid: {items[0]}"
        else:
            count = len(self.problems) + max(more, 0)
            text = "\n  ".join([f"{self.kind} {clean(source)} is invalid ({count} problems):", *items])
        super().__init__(text)


E = TypeVar("E", bound=FileError)


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """`text` safe to print on one line: control characters escaped, cut to `limit` characters."""
    out = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text[: limit + 1])
    return out if len(out) <= limit else out[: limit - 1] + "…"


def field_path(loc: Iterable[str | int]) -> str:
    return ".".join(str(part) for part in loc)


@dataclass(frozen=True)
class YamlDocument:
    """The data of a file (plain dicts, lists and scalars) and its node tree (for line numbers)."""

    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[str | int]) -> int:
        """1-based line of the deepest node `loc` reaches (line 1 for an empty document)."""
        line = line_of(self.root, loc)
        return 1 if line is None else line


def line_of(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest YAML node that `loc` reaches (the key's line for a mapping entry)."""
    node = root
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    line = key_node.start_mark.line + 1
                    node = value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def read_yaml(path: str | Path, error: type[E]) -> YamlDocument:
    """Read and parse the file at `path`; its size is checked before it is read, and only a regular file is."""
    p = Path(path)
    source = str(p)
    try:
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or /dev/zero would never end
            raise error(source, [(None, "", "not a regular file")])
        if info.st_size > MAX_BYTES:
            raise error(source, [(None, "", _TOO_LARGE)])
        raw = p.read_bytes()
    except OSError as exc:
        raise error(source, [(None, "", f"cannot read: {exc.strerror or type(exc).__name__}")]) from None
    return parse_yaml(raw, source, error)


def parse_yaml(text: str | bytes, source: str, error: type[E]) -> YamlDocument:
    """Parse one hand-written YAML document, or raise `error` with the line and field of the first refusal."""
    if isinstance(text, str):
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: no file holds one
            raise error(source, [(_line_at(text, exc.start), "", "not UTF-8 text")]) from None
    else:
        raw = text
    if len(raw) > MAX_BYTES:
        raise error(source, [(None, "", _TOO_LARGE)])
    if isinstance(text, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            where = _field_at_line(raw.decode("utf-8", errors="replace"), line)
            message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x})"
            raise error(source, [(line, where, message)]) from None
    root: yaml.Node | None = None
    try:
        _check_events(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is not None:
                _check_duplicates(root)
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except _Refused as exc:
        field = exc.field or (_field_in(root, exc.line) if root is not None else "")
        raise error(source, [(exc.line, field, exc.message)]) from None
    except yaml.YAMLError as exc:
        raise error(source, [(_error_line(exc, text), "", f"not valid YAML: {_yaml_problem(exc)}")]) from None
    return YamlDocument(data, root)


class _Refused(Exception):
    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.line, self.field, self.message = line, field, message


def _check_events(text: str) -> None:
    """Depth, tags, anchors and aliases, from the parser's events (no recursion)."""
    # One frame per open collection: [is_mapping, next_is_key, current key or index]; a mapping's key is None
    # while its next key is awaited.
    stack: list[list[Any]] = []
    scalar, alias, mapping_start = yaml.ScalarEvent, yaml.AliasEvent, yaml.MappingStartEvent
    collection_start, collection_end = yaml.CollectionStartEvent, yaml.CollectionEndEvent
    events: Iterable[Any] = yaml.parse(text, Loader=_Loader)
    nodes = 0
    for event in events:
        kind = type(event)
        if kind is scalar or issubclass(kind, collection_start):
            nodes += 1
            if nodes > MAX_NODES:
                message = f"more than {MAX_NODES:,} keys and values: a hand-written file has far fewer"
                raise _Refused(_event_line(event), _stack_path(stack), message)
        if kind is scalar:
            if event.anchor is not None or event.tag is not None:
                _refuse_event(event, stack)
            if stack:
                top = stack[-1]
                if top[1]:
                    top[1], top[2] = False, event.value
                elif top[0]:
                    top[1], top[2] = True, None
                else:
                    top[2] += 1
        elif issubclass(kind, collection_start):
            if event.anchor is not None or event.tag is not None or (stack and stack[-1][1]):
                _refuse_event(event, stack)
            if len(stack) >= MAX_DEPTH:
                raise _Refused(_event_line(event), _stack_path(stack), f"nested deeper than {MAX_DEPTH} levels")
            is_mapping = kind is mapping_start
            stack.append([is_mapping, is_mapping, None if is_mapping else 0])
        elif issubclass(kind, collection_end):
            stack.pop()
            if stack:
                top = stack[-1]
                if top[0]:
                    top[1], top[2] = True, None
                else:
                    top[2] += 1
        elif kind is alias:
            raise _Refused(
                _event_line(event), _stack_path(stack), "aliases (*name) are not allowed: write the value out"
            )


def _refuse_event(event: Any, stack: list[list[Any]]) -> None:
    line, where = _event_line(event), _stack_path(stack)
    if event.anchor is not None:
        raise _Refused(line, where, "anchors (&name) are not allowed: write each value out")
    if event.tag is not None:
        raise _Refused(line, where, f"tags ({clean(str(event.tag), 60)}) are not allowed")
    raise _Refused(line, where, "a key must be a plain value, not a mapping or a list")


def _event_line(event: Any) -> int:
    return 1 if event.start_mark is None else int(event.start_mark.line) + 1


def _stack_path(stack: list[list[Any]]) -> str:
    return field_path(clean(str(frame[2]), 64) for frame in stack if frame[2] is not None)


def _check_duplicates(root: yaml.Node) -> None:
    todo: list[tuple[yaml.Node, tuple[str | int, ...]]] = [(root, ())]
    collections = (yaml.MappingNode, yaml.SequenceNode)
    while todo:
        node, path = todo.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                first = seen.setdefault((key.tag, key.value), key)
                if first is not key:
                    line = key.start_mark.line + 1
                    raise _Refused(
                        line,
                        field_path([*path, clean(str(key.value), 64)]),
                        f"duplicate key: at line {first.start_mark.line + 1} and again at line {line}",
                    )
                if isinstance(value, collections):
                    todo.append((value, (*path, clean(str(key.value), 64))))
        elif isinstance(node, yaml.SequenceNode):
            todo += [(item, (*path, i)) for i, item in enumerate(node.value) if isinstance(item, collections)]


def _error_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    position = getattr(exc, "position", None)  # ReaderError: a character YAML does not allow
    if mark is not None:
        line = int(mark.line) + 1
    else:
        line = _line_at(text, position) if isinstance(position, int) else 1
    return min(line, line_count(text))  # the end of a file without a last newline is on its last line


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def line_count(text: str) -> int:
    """Lines as YAML counts them (CR, LF, CRLF and the Unicode line breaks each end one)."""
    return len(_BREAK.findall(text)) + 1


def _line_at(text: str, index: int) -> int:
    return line_count(text[: max(0, min(index, len(text)))])


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The parser's words on one line, without the excerpt of the file PyYAML appends."""
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character
        code = ord(char) if isinstance(char, str) and len(char) == 1 else char
        return f"character U+{code:04X} is not allowed" if isinstance(code, int) else "a character is not allowed"
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [p for p in (exc.problem, exc.context) if p]
        return "; ".join(parts) or type(exc).__name__
    return type(exc).__name__


def _field_at_line(text: str, line: int) -> str:
    """The field whose key or value is on `line` (best effort: "" when the rest of the file does not parse)."""
    try:
        _check_events(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except (_Refused, yaml.YAMLError):
        return ""
    return "" if root is None else _field_in(root, line)


def _field_in(root: yaml.Node, line: int) -> str:
    """The path of the deepest entry whose key or value spans `line` (1-based)."""
    path: list[str | int] = []
    node: yaml.Node | None = root
    while node is not None:
        children: list[tuple[str | int, yaml.Node, int]] = []
        if isinstance(node, yaml.MappingNode):
            children = [(clean(str(k.value), 64), v, k.start_mark.line) for k, v in node.value]
        elif isinstance(node, yaml.SequenceNode):
            children = [(i, v, v.start_mark.line) for i, v in enumerate(node.value)]
        node = None
        for name, child, start in children:
            if start <= line - 1 <= child.end_mark.line:
                path.append(name)
                node = child
                break
    return field_path(path)
