"""Log lines: JSON and text formats, the call's request id on every record, and the server process's stderr."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from chokepoint.v1 import graph_pb2, graph_pb2_grpc

from server.config import Config
from server.logs import JsonFormatter, RequestContextFilter, TextFormatter, bind_request, unbind_request
from tests.conftest import start_server_process


@pytest.fixture
def audit_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose records go through the service's filter and JSON formatter into a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("chokepoint.audit.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


def test_a_json_line_has_time_level_logger_message_and_the_extra_fields(
    audit_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = audit_lines
    logger.info("write", extra={"principal": "alice", "method": "UpsertCompanies", "graph_version": 3})
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "INFO"
    assert record["logger"] == "chokepoint.audit.test"
    assert record["message"] == "write"
    assert (record["principal"], record["method"], record["graph_version"]) == ("alice", "UpsertCompanies", 3)
    assert datetime.fromisoformat(record["time"]).utcoffset() == UTC.utcoffset(None)
    assert record["time"].endswith("Z")
    assert "request_id" not in record  # logged outside any call
    assert "exception" not in record


def test_records_logged_during_a_call_carry_its_request_id_and_method(
    audit_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = audit_lines
    token = bind_request("trace-42", "/chokepoint.v1.GraphService/DeleteCompany")
    try:
        logger.info("deleting %s", "X-1")
        logger.info("write", extra={"request_id": "trace-42", "method": "DeleteCompany", "principal": "bob"})
    finally:
        unbind_request(token)
    logger.info("after")
    during, audit, after = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (during["message"], during["request_id"], during["method"]) == (
        "deleting X-1",
        "trace-42",
        "/chokepoint.v1.GraphService/DeleteCompany",
    )
    assert (audit["request_id"], audit["method"], audit["principal"]) == ("trace-42", "DeleteCompany", "bob")
    assert "request_id" not in after


def test_an_exception_goes_into_the_json_line(audit_lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = audit_lines
    try:
        _ = 1 / 0
    except ZeroDivisionError:
        logger.exception("unexpected error in %s", "/x/Y")
    record = json.loads(stream.getvalue())
    assert record["level"] == "ERROR"
    assert record["message"] == "unexpected error in /x/Y"
    assert "ZeroDivisionError: division by zero" in record["exception"]


def test_text_lines_end_with_the_call_and_extra_fields() -> None:
    record = logging.LogRecord("chokepoint.audit", logging.INFO, __file__, 1, "write", None, None)
    record.request_id = "trace-42"
    record.principal = "alice"
    line = TextFormatter().format(record)
    assert line.endswith("INFO chokepoint.audit: write [request_id=trace-42 principal=alice]")
    plain = logging.LogRecord("chokepoint", logging.INFO, __file__, 1, "stopped", None, None)
    assert TextFormatter().format(plain).endswith("INFO chokepoint: stopped")


def test_the_server_writes_one_json_object_per_line_with_the_calls_request_id(tmp_path: Path) -> None:
    server = start_server_process(tmp_path / "store", "--no-seed", "--log-format", "json", "--log-level", "DEBUG")
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = graph_pb2_grpc.GraphServiceStub(channel)
            with pytest.raises(grpc.RpcError):
                stub.GetCompany(
                    graph_pb2.GetCompanyRequest(company_id="NOPE"), metadata=[("x-request-id", "trace-42")], timeout=30
                )
    finally:
        code, output = server.stop()
    assert code == 0
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(f"serving on 127.0.0.1:{server.port}" in record["message"] for record in records)
    assert {"time", "level", "logger", "message"} <= set(records[0])
    call = [record for record in records if record.get("request_id") == "trace-42"]
    assert call, "the call's access record carries its request id"
    assert all(record["method"] == "/chokepoint.v1.GraphService/GetCompany" for record in call)
    assert any(record.get("code") == "NOT_FOUND" for record in call)
    assert records[-1]["message"] == "stopped"


def test_log_format_and_metrics_address_come_from_flags_over_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ = {"CHOKEPOINT_LOG_FORMAT": "json", "CHOKEPOINT_METRICS_ADDRESS": "127.0.0.1:9464"}
    config = Config.from_args([], environ=environ)
    assert (config.log_format, config.metrics_address) == ("json", "127.0.0.1:9464")
    assert Config.from_args(["--log-format", "text"], environ=environ).log_format == "text"
    assert (Config().log_format, Config().metrics_address) == ("text", "")
    with pytest.raises(SystemExit):
        Config.from_args([], environ={"CHOKEPOINT_LOG_FORMAT": "xml"})
    assert "--log-format: must be one of text, json, got 'xml'" in capsys.readouterr().err
