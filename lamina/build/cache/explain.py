"""Why a step missed the cache: the inputs that differ from the nearest earlier key.

`explain(old, new)` compares two keys input by input and says each change as a
sentence ("parent changed (step 3 was rebuilt)", "ENV NODE_ENV: "dev" → "prod"",
"files changed: src/a.js (content)"); for COPY it reads the per-file lines the keys
carry in their detail. `old` is what `CacheIndex.nearest` finds.
"""

from __future__ import annotations

from collections.abc import Mapping

from lamina.build.cache.key import CacheKey

_LIST_LIMIT = 10  # files named per category in an explanation


def explain(old: CacheKey | None, new: CacheKey) -> list[str]:
    """Why `new` missed, compared with `old` (the nearest earlier key), as sentences."""
    if old is None:
        return ["no earlier build of this step"]
    if old.digest == new.digest:
        return []
    before, after = dict(old.inputs), dict(new.inputs)
    names = sorted(before.keys() | after.keys(), key=_explain_order)
    return [
        _sentence(name, before.get(name), after.get(name), old, new)
        for name in names
        if before.get(name) != after.get(name)
    ]


def _explain_order(name: str) -> tuple[int, str]:
    first = ("kind", "parent", "instruction", "files")
    return (first.index(name), "") if name in first else (len(first), name)


def _sentence(
    name: str, old: str | None, new: str | None, old_key: CacheKey, new_key: CacheKey
) -> str:
    if name == "parent":
        step = new_key.detail.get("parent_step")
        return f"parent changed (step {step} was rebuilt)" if step else "parent changed"
    if name == "instruction":
        return f'instruction changed: "{old}" → "{new}"'
    if name == "files":
        return _files_sentence(old_key.detail, new_key.detail)
    label, _, var = name.partition(":")
    what = {"env": f"ENV {var}", "arg": f"build arg {var}"}.get(label, name) if var else name
    if old is None:
        return f'{what} added: "{new}"'
    if new is None:
        return f'{what} removed (was "{old}")'
    return f'{what}: "{old}" → "{new}"'


def _files_sentence(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    before = {k[5:]: v for k, v in old.items() if k.startswith("file:")}
    after = {k[5:]: v for k, v in new.items() if k.startswith("file:")}
    if not before or not after:
        return "files changed"
    changed = [
        f"{_show(name)} ({_entry_change(before[name], after[name])})"
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    ]
    parts = [_listing(changed)] if changed else []
    if added := [_show(n) for n in sorted(after.keys() - before.keys())]:
        parts.append("added: " + _listing(added))
    if removed := [_show(n) for n in sorted(before.keys() - after.keys())]:
        parts.append("removed: " + _listing(removed))
    return "files changed: " + ", ".join(parts) if parts else "files changed (order)"


def _entry_change(old: str, new: str) -> str:
    """What differs between two `Selection.files` lines: type, mode, owner, content."""
    kind_a, mode_a, owner_a, rest_a = [*old.split(" ", 3), ""][:4]
    kind_b, mode_b, owner_b, rest_b = [*new.split(" ", 3), ""][:4]
    if kind_a != kind_b:
        return f"type {kind_a}→{kind_b}"
    reasons = []
    if mode_a != mode_b:
        reasons.append(f"mode {int(mode_a, 8):03o}→{int(mode_b, 8):03o}")
    if owner_a != owner_b:
        reasons.append(f"owner {owner_a}→{owner_b}")
    if rest_a != rest_b:
        reasons.append("content" if kind_a == "file" else f'target "{rest_a}"→"{rest_b}"')
    return ", ".join(reasons)


def _show(name: str) -> str:
    return name or "."


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LIST_LIMIT])
    more = len(names) - _LIST_LIMIT
    return f"{shown} and {more} more" if more > 0 else shown
