"""Uploading and downloading file content (File attachments, shell thumbnails)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import BodyPartReader, web

from titan_core.errors import BadRequest, UnsupportedMediaType
from titan_core.store.records import Attachment


async def read_upload(request: web.Request) -> Attachment:
    """A multipart/form-data upload with the parts `file` (the content) and `fileName`."""
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            f"the body must be multipart/form-data with the parts 'file' and 'fileName', got {request.content_type!r}"
        )
    reader = await request.multipart()
    file_name: str | None = None
    content: bytes | None = None
    content_type = "application/octet-stream"
    part_file_name: str | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "fileName":
            file_name = (await part.text()).strip()
        elif part.name == "file":
            content = bytes(await part.read())
            content_type = part.headers.get("Content-Type", content_type)
            part_file_name = part.filename
    if content is None:
        raise BadRequest("the upload has no part named 'file' with the content")
    name = file_name or part_file_name
    if not name:
        raise BadRequest(
            "the upload names no file: send a 'fileName' part (or a filename on the 'file' part)"
        )
    if "\x00" in name or ("/" in name.replace("\\", "/").lstrip("/") and ".." in name):
        raise BadRequest(f"fileName {name!r} is not allowed: send a plain file name")
    return Attachment(content_type=content_type, file_name=name, data=content)


def content_disposition(file_name: str) -> str:
    """The Content-Disposition of a download, naming the file as RFC 6266 asks.

    `filename*` (RFC 8187, UTF-8) carries the name exactly; `filename` is a printable-ASCII fallback
    for old clients, without quotes, backslashes or `%` (which some clients would decode).
    """
    fallback = "".join(char if " " <= char <= "~" and char not in '"\\%' else "_" for char in file_name)
    encoded = quote(file_name, safe="!#$&+^`|~")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def attachment_response(attachment: Attachment, *, etag: str | None = None) -> web.Response:
    response = web.Response(body=attachment.data, content_type=attachment.content_type.split(";")[0])
    response.headers["Content-Disposition"] = content_disposition(attachment.file_name)
    if etag:
        response.headers["ETag"] = etag
    return response
