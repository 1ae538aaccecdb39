"""Image commands: `images`, `image inspect`, `tag`, `rmi`, `history`, `image prune`,
`import`, `image bootstrap`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping

from lamina.cli import conventions, options
from lamina.cli.client import Client, ConnectionLost
from lamina.cli.format import ago, human_size, print_rows
from lamina.cli.main import UsageError
from lamina.cli.progress import cut_short, show_stream

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs every command ~2.5 ms to import
    from typing import Any, BinaryIO


def ls(client: Client, args: argparse.Namespace) -> int:
    filters = options.filters(args.filter)
    if args.repository:
        filters.setdefault("reference", []).append(args.repository)
    images = client.get_json(
        "/images/json", all=int(args.all), filters=json.dumps(filters) if filters else None
    )
    rows = [row for image in images for row in _image_rows(image, args)]
    rows.sort(key=lambda r: -r["CreatedAt_"])
    if args.quiet:
        seen: list[str] = []
        for row in rows:
            if row["ID"] not in seen:
                seen.append(row["ID"])
        print("\n".join(seen)) if seen else None
        return 0
    columns = [("REPOSITORY", "Repository"), ("TAG", "Tag")]
    if args.digests:
        columns.append(("DIGEST", "Digest"))
    columns += [("IMAGE ID", "ID"), ("CREATED", "CreatedSince"), ("SIZE", "Size")]
    print_rows(rows, fmt=args.format, columns=columns)
    return 0


def _image_rows(image: Mapping[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    image_id = image["Id"] if args.no_trunc else image["Id"].removeprefix("sha256:")[:12]
    base = {
        "ID": image_id,
        "CreatedSince": ago(image["Created"]),
        "CreatedAt_": image["Created"],
        "Size": human_size(image["Size"]),
        "Digest": "<none>",
        "Containers": str(image.get("Containers", "N/A")),
    }
    digests = {d.split("@")[0]: d.split("@")[1] for d in image.get("RepoDigests") or []}
    tags = image.get("RepoTags") or []
    if not tags:
        return [{**base, "Repository": "<none>", "Tag": "<none>"}]
    rows = []
    for tag in tags:
        repo, _, name = tag.rpartition(":")
        rows.append(
            {**base, "Repository": repo, "Tag": name, "Digest": digests.get(repo, "<none>")}
        )
    return rows


def inspect(client: Client, args: argparse.Namespace) -> int:
    return conventions.inspect_each(client, args.images, lambda n: f"/images/{n}/json", args.format)


def tag(client: Client, args: argparse.Namespace) -> int:
    from lamina.errors import InvalidArgument
    from lamina.oci.reference import parse_normalized

    try:
        parse_normalized(args.target)
    except InvalidArgument as err:
        raise UsageError(
            f'Error parsing reference: "{args.target}" is not a valid repository/tag: {err}'
        ) from err
    repo, tag_name = _split_tag(args.target)
    client.request(
        "POST", f"/images/{args.source}/tag", query={"repo": repo, "tag": tag_name}
    ).close()
    return 0


def rm(client: Client, args: argparse.Namespace) -> int:
    query = {"force": int(args.force), "noprune": int(args.no_prune)}

    def remove(name: str) -> None:
        for record in client.call("DELETE", f"/images/{name}", query=query):
            for key, value in record.items():
                print(f"{key}: {value}")

    return conventions.each(args.images, remove, echo=False)


def history(client: Client, args: argparse.Namespace) -> int:
    rows = client.get_json(f"/images/{args.image}/history")
    if args.quiet:
        for row in rows:
            print(_short(row["Id"], args.no_trunc))
        return 0
    out = [
        {
            "ID": _short(row["Id"], args.no_trunc),
            "CreatedSince": ago(row["Created"]) if args.human and row["Created"] else "N/A",
            "CreatedBy": _created_by(row["CreatedBy"], args.no_trunc),
            "Size": human_size(row["Size"]) if args.human else str(row["Size"]),
            "Comment": row.get("Comment", ""),
        }
        for row in rows
    ]
    print_rows(
        out,
        fmt=args.format,
        columns=[
            ("IMAGE", "ID"),
            ("CREATED", "CreatedSince"),
            ("CREATED BY", "CreatedBy"),
            ("SIZE", "Size"),
            ("COMMENT", "Comment"),
        ],
    )
    return 0


def prune(client: Client, args: argparse.Namespace) -> int:
    what = (
        "all images without at least one container associated to them"
        if args.all
        else "all dangling images"
    )
    if not args.force and not conventions.confirm(f"This will remove {what}."):
        return 0
    filters = options.filters(args.filter)
    filters["dangling"] = ["false" if args.all else "true"]
    result = client.call("POST", "/images/prune", query={"filters": json.dumps(filters)})
    deleted = result.get("ImagesDeleted") or []
    if deleted:
        print("Deleted Images:")
        for record in deleted:
            for key, value in record.items():
                print(f"{key.lower()}: {value}")
        print()
    print(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}")
    return 0


def import_(client: Client, args: argparse.Namespace) -> int:
    repo, tag_name = _split_tag(args.reference) if args.reference else ("", "")
    query = {
        "fromSrc": "-",
        "repo": repo or None,
        "tag": tag_name or None,
        "message": args.message or None,
        "changes": args.change,
    }
    stream = _open_source(args.file)
    try:
        reply = client.request(
            "POST",
            "/images/create",
            query=query,
            body=stream,
            headers={"Content-Type": "application/x-tar"},
        )
    except ConnectionLost:
        return cut_short("import")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    # Docker's import ends with the new image's ID as a status message.
    return show_stream(reply, what="import", finished=_is_image_id_status)


def bootstrap(client: Client, args: argparse.Namespace) -> int:
    try:
        reply = client.request(
            "POST",
            "/lamina/images/bootstrap",
            query={"name": args.name, "tag": args.tag, "include": args.include},
        )
    except ConnectionLost:
        return cut_short("bootstrap")
    return show_stream(reply, what="bootstrap", finished=lambda m: "ID" in (m.get("aux") or {}))


def _is_image_id_status(message: dict[str, Any]) -> bool:
    return str(message.get("status", "")).startswith("sha256:")


def _open_source(name: str) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    if "://" in name:
        raise UsageError(f"importing from a URL is not supported: {name}")
    try:
        return open(name, "rb")
    except OSError as err:
        raise UsageError(f"open {name}: {err.strerror.lower() if err.strerror else err}") from err


def _split_tag(reference: str) -> tuple[str, str]:
    name, at, digest = reference.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon] + at + digest, name[colon + 1 :]
    return reference, ""


def _short(image_id: str, no_trunc: bool) -> str:
    if no_trunc or not image_id.startswith("sha256:"):
        return image_id
    return image_id.removeprefix("sha256:")[:12]


def _created_by(text: str, no_trunc: bool) -> str:
    text = text.replace("\t", " ").replace("\n", " ")
    if no_trunc or len(text) <= 45:
        return text
    return text[:44] + "…"
