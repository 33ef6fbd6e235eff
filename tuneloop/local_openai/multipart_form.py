"""`multipart/form-data` bodies (file uploads) parsed with python-multipart.

The router is framework-free so that both transports share it, so it parses forms itself
rather than through Starlette.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from tuneloop.local_openai.errors import invalid_request


@dataclass
class FormPart:
    name: str
    filename: str | None
    data: bytearray = field(default_factory=bytearray)


def parse_form(content_type: str, body: bytes) -> dict[str, FormPart]:
    """The parts of a form, by field name (the last one wins for a repeated name)."""
    mime, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise invalid_request(
            "Invalid request: expected a multipart/form-data body with a boundary "
            "(upload files as multipart form data)."
        )
    parts: list[FormPart] = []
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[bytes, bytes] = {}

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _disposition, options = parse_options_header(headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        parts.append(FormPart(name, filename.decode("utf-8", "replace") if filename else None))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data.extend(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except Exception as error:
        raise invalid_request(f"Invalid multipart/form-data body: {error}") from None
    return {part.name: part for part in parts}
