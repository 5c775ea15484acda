"""Assembling a client-streamed graph upload into whole files, within a size limit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn

import polars as pl
from chokepoint.v1 import graph_pb2

from server.core.errors import FieldViolation, InvalidArgumentError
from server.core.store import ImportMode
from server.core.tables import FileFormat, FileKind, read_table, row_source
from server.core.validation import RowSource
from server.rpc.convert import FILE_FORMATS, FILE_KINDS, IMPORT_MODES
from server.rpc.limits import refuse_over_limit


@dataclass
class Upload:
    """The files of one import, their formats, and the options from the first message."""

    mode: ImportMode = ImportMode.REPLACE
    request_id: str = ""
    formats: dict[FileKind, FileFormat] = field(default_factory=dict)
    data: dict[FileKind, bytearray] = field(default_factory=dict)

    def table(self, kind: FileKind) -> tuple[pl.DataFrame, RowSource] | None:
        """The parsed file of this kind, with the source naming it in errors; None if not uploaded."""
        if kind not in self.data:
            return None
        fmt = self.formats[kind]
        return read_table(bytes(self.data[kind]), kind=kind, fmt=fmt), row_source(kind, fmt)


def collect_upload(chunks: Iterable[graph_pb2.ImportGraphRequest], *, max_bytes: int) -> Upload:
    """Concatenate chunks per file, refusing unset fields, format changes, interleaving and oversize uploads."""
    upload = Upload()
    total = 0
    current: FileKind | None = None
    for index, chunk in enumerate(chunks):
        if index == 0:
            upload.mode = IMPORT_MODES.get(chunk.mode) or _refuse(index, "mode", f"unknown value {chunk.mode}")
            upload.request_id = chunk.request_id
        kind = FILE_KINDS.get(chunk.file) or _refuse(index, "file", "must be GRAPH_FILE_COMPANIES or GRAPH_FILE_LINKS")
        fmt = FILE_FORMATS.get(chunk.format) or _refuse(
            index, "format", "must be FILE_FORMAT_CSV or FILE_FORMAT_PARQUET"
        )
        if kind != current and kind in upload.data:
            _refuse(index, "file", f"{kind.value} chunks must be contiguous (files may not interleave)")
        if upload.formats.setdefault(kind, fmt) is not fmt:
            _refuse(index, "format", f"changed within the {kind.value} file")
        current = kind
        total += len(chunk.data)
        refuse_over_limit(
            "upload: bytes",
            count=total,
            limit=max_bytes,
            setting="max_import_bytes",
            advice="import the graph in parts with IMPORT_MODE_MERGE",
            reason="IMPORT_TOO_LARGE",
        )
        upload.data.setdefault(kind, bytearray()).extend(chunk.data)
    if not upload.data:
        _refuse(0, "file", "no file was uploaded")
    return upload


def _refuse(index: int, field_name: str, why: str) -> NoReturn:
    path = f"requests[{index}].{field_name}"
    msg = f"{path}: {why}"
    raise InvalidArgumentError(msg, violations=[FieldViolation(path, msg)])
