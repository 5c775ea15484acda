"""ImportGraph / ExportGraph end to end: round trips, modes, stream errors, and a corpus of malformed files."""

from __future__ import annotations

import io
from pathlib import Path

import grpc
import polars as pl
import pytest
from chokepoint.v1 import graph_pb2, graph_pb2_grpc

from client.client import ChokepointClient
from client.errors import InvalidArgumentError, ResourceExhaustedError, decode_error
from tests.conftest import ServeFactory

COMPANIES_CSV = "company_id,name,country,lists\nA,Alpha Inc,US,\nB,Beta Ltd,CN,US_ENTITY_LIST\nC,Gamma SA,VN,\n"
LINKS_CSV = (
    "supplier_id,buyer_id,hs_code,annual_value_usd,origin_country,route,tags\n"
    "B,A,8505.11,100.5,,CN>VN>US,\n"
    "C,A,2846.90,20,CN,,spot_buy\n"
    "A,B,8501,3,,,\n"
)


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def parquet_bytes(table: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    table.write_parquet(buffer)
    return buffer.getvalue()


def snapshot(client: ChokepointClient, directory: Path) -> tuple[int, bytes, bytes]:
    exported = client.export_graph(directory)
    return exported.graph_version, exported.companies_path.read_bytes(), exported.links_path.read_bytes()


@pytest.fixture
def loaded(client: ChokepointClient, tmp_path: Path) -> ChokepointClient:
    client.import_graph(write(tmp_path, "companies.csv", COMPANIES_CSV), write(tmp_path, "links.csv", LINKS_CSV))
    return client


def test_csv_import_then_export_round_trips(loaded: ChokepointClient, tmp_path: Path) -> None:
    version, companies, links = snapshot(loaded, tmp_path / "out")
    assert version == 1
    assert companies.decode() == COMPANIES_CSV
    assert pl.read_csv(io.BytesIO(links), infer_schema=False)["hs_code"].to_list() == ["850511", "284690", "8501"]


def test_parquet_export_imports_into_an_identical_graph(
    loaded: ChokepointClient, serve: ServeFactory, tmp_path: Path
) -> None:
    exported = loaded.export_graph(tmp_path / "pq", fmt="parquet")
    with serve().client() as other:
        ack = other.import_graph(exported.companies_path, exported.links_path)
        assert (ack.company_count, ack.link_count) == (3, 3)
        assert snapshot(other, tmp_path / "b")[1:] == snapshot(loaded, tmp_path / "a")[1:]


def test_export_refuses_an_unknown_format_and_writes_csv_when_unspecified(serve: ServeFactory) -> None:
    with grpc.insecure_channel(serve().address) as channel:
        stub = graph_pb2_grpc.GraphServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.ExportGraph(graph_pb2.ExportGraphRequest(format=7)))  # a number no FileFormat has
        unspecified = list(stub.ExportGraph(graph_pb2.ExportGraphRequest()))
    error = decode_error(caught.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert [violation.field for violation in error.violations] == ["format"]
    assert "unknown value 7" in error.message
    assert {chunk.format for chunk in unspecified} == {graph_pb2.FILE_FORMAT_CSV}
    assert unspecified[0].data.startswith(b"company_id,name,country")


def test_merge_import_upserts_into_the_current_graph(loaded: ChokepointClient, tmp_path: Path) -> None:
    more = write(tmp_path, "more_companies.csv", "company_id,name,country\nD,Delta AG,DE\n")
    more_links = write(
        tmp_path, "more_links.csv", "supplier_id,buyer_id,hs_code,annual_value_usd\nD,A,848620,7\nB,A,850511,1\n"
    )
    ack = loaded.import_graph(more, more_links, merge=True)
    assert (ack.company_count, ack.link_count) == (4, 4)
    values = {link.supplier_id: link.annual_value_usd for link in loaded.list_supply_links(buyer_id="A")}
    assert values == {"B": 1.0, "C": 20.0, "D": 7.0}


def test_merge_import_of_links_alone_checks_ids_against_the_graph(loaded: ChokepointClient, tmp_path: Path) -> None:
    links = write(tmp_path, "l.csv", "supplier_id,buyer_id,hs_code,annual_value_usd\nA,C,8486.20,5\nZ,A,8486,1\n")
    with pytest.raises(InvalidArgumentError) as caught:
        loaded.import_graph(None, links, merge=True)
    assert [v.field for v in caught.value.violations] == ["links.csv[2].supplier_id"]


def test_replace_import_needs_a_companies_file(loaded: ChokepointClient, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        loaded.import_graph(None, write(tmp_path, "links.csv", LINKS_CSV))
    assert caught.value.reason == "COMPANIES_FILE_REQUIRED"


def test_import_over_the_size_limit_is_resource_exhausted(serve: ServeFactory, tmp_path: Path) -> None:
    with serve(max_import_bytes=64).client() as client, pytest.raises(ResourceExhaustedError) as caught:
        client.import_graph(write(tmp_path, "companies.csv", COMPANIES_CSV))
    assert caught.value.reason == "IMPORT_TOO_LARGE"


@pytest.mark.parametrize(
    ("chunks", "field"),
    [
        ([graph_pb2.ImportGraphRequest(file=graph_pb2.GRAPH_FILE_COMPANIES, data=b"x")], "requests[0].format"),
        ([graph_pb2.ImportGraphRequest(format=graph_pb2.FILE_FORMAT_CSV, data=b"x")], "requests[0].file"),
        (
            [
                graph_pb2.ImportGraphRequest(file=graph_pb2.GRAPH_FILE_COMPANIES, format=graph_pb2.FILE_FORMAT_CSV),
                graph_pb2.ImportGraphRequest(file=graph_pb2.GRAPH_FILE_LINKS, format=graph_pb2.FILE_FORMAT_CSV),
                graph_pb2.ImportGraphRequest(file=graph_pb2.GRAPH_FILE_COMPANIES, format=graph_pb2.FILE_FORMAT_CSV),
            ],
            "requests[2].file",
        ),
        (
            [
                graph_pb2.ImportGraphRequest(file=graph_pb2.GRAPH_FILE_COMPANIES, format=graph_pb2.FILE_FORMAT_CSV),
                graph_pb2.ImportGraphRequest(file=graph_pb2.GRAPH_FILE_COMPANIES, format=graph_pb2.FILE_FORMAT_PARQUET),
            ],
            "requests[1].format",
        ),
        ([], "requests[0].file"),
    ],
    ids=["no-format", "no-file", "interleaved", "format-changed", "empty-stream"],
)
def test_malformed_upload_streams_are_refused_naming_the_message(
    serve: ServeFactory, chunks: list[graph_pb2.ImportGraphRequest], field: str
) -> None:
    server = serve()
    stub = graph_pb2_grpc.GraphServiceStub(grpc.insecure_channel(server.address))
    stats = graph_pb2.GetGraphStatsRequest()
    before = stub.GetGraphStats(stats)
    with pytest.raises(grpc.RpcError) as caught:
        stub.ImportGraph(iter(chunks))
    error = decode_error(caught.value)
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert [violation.field for violation in error.violations] == [field]
    assert error.message.startswith(field)
    assert stub.GetGraphStats(stats) == before


GOOD_COMPANIES = pl.DataFrame({"company_id": ["A", "B"], "name": ["Alpha", "Beta"], "country": ["US", "CN"]})
GOOD_LINKS = pl.DataFrame({"supplier_id": ["B"], "buyer_id": ["A"], "hs_code": ["850511"], "annual_value_usd": [10.0]})
LINK_HEADER = "supplier_id,buyer_id,hs_code,annual_value_usd,origin_country,route\n"
HUGE_CELL = b"x" * (10 * 1024**2)  # a 10 MB cell

# (file name, content, expected ErrorInfo reason, expected field, expected text in the description)
CORPUS: list[tuple[str, bytes, str, str, str]] = [
    (
        "companies.csv",
        b"company_id,name\nA,Alpha\n",
        "INVALID_COLUMNS",
        "companies.csv.country",
        "missing required column 'country'",
    ),
    (
        "companies.csv",
        b"company_id,name,country,ceo\nA,Alpha,US,x\n",
        "INVALID_COLUMNS",
        "companies.csv.ceo",
        "unknown column 'ceo'",
    ),
    (
        "companies.csv",
        b"company_id,name,country\nA,Alpha,US\nB,Beta,China\n",
        "INVALID_COMPANIES",
        "companies.csv[2].country",
        "row 2 (line 3), column country",
    ),
    (
        "companies.csv",
        b"company_id,name,country\nA,Alpha,US\nA,Again,US\n",
        "INVALID_COMPANIES",
        "companies.csv[2].company_id",
        "duplicates",
    ),
    (
        "companies.csv",
        b"company_id,name,country\nA,Alpha,US\nB,B\xe9ta,CN\n",
        "INVALID_ENCODING",
        "companies.csv",
        "line 3: not valid UTF-8",
    ),
    (
        "companies.csv",
        b"company_id,name,country\nA," + b"x" * 5000 + b",US\n",
        "INVALID_COMPANIES",
        "companies.csv[1].name",
        "at most 512",
    ),
    (
        "companies.csv",
        b"company_id,name,country\nA,Alpha,US,extra,fields\n",
        "UNREADABLE_FILE",
        "companies.csv",
        "cannot be read",
    ),
    (
        "companies.csv",
        b"company_id,name,country\n,Nameless,US\n",
        "INVALID_COMPANIES",
        "companies.csv[1].company_id",
        "is required",
    ),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,-5,,\n").encode(),
        "INVALID_LINKS",
        "links.csv[1].annual_value_usd",
        "got '-5'",
    ),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,NaN,,\n").encode(),
        "INVALID_LINKS",
        "links.csv[1].annual_value_usd",
        "finite",
    ),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,inf,,\n").encode(),
        "INVALID_LINKS",
        "links.csv[1].annual_value_usd",
        "finite",
    ),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,12k,,\n").encode(),
        "INVALID_LINKS",
        "links.csv[1].annual_value_usd",
        "must be a number",
    ),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,1,,\nQ,A,850511,1,,\n").encode(),
        "INVALID_LINKS",
        "links.csv[2].supplier_id",
        "existing company_id",
    ),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,1,,\nB,A,8505.11,2,,\n").encode(),
        "INVALID_LINKS",
        "links.csv[2].hs_code",
        "duplicates",
    ),
    ("links.csv", (LINK_HEADER + "A,A,850511,1,,\n").encode(), "INVALID_LINKS", "links.csv[1].buyer_id", "differ"),
    ("links.csv", (LINK_HEADER + "B,A,85A511,1,,\n").encode(), "INVALID_LINKS", "links.csv[1].hs_code", "4-10 digits"),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,1,,CN>>US\n").encode(),
        "INVALID_LINKS",
        "links.csv[1].route",
        "ISO 3166-1",
    ),
    (
        "links.csv",
        (LINK_HEADER + "B,A,850511,1,cn,\n").encode(),
        "INVALID_LINKS",
        "links.csv[1].origin_country",
        "got 'cn'",
    ),
    (
        "links.parquet",
        parquet_bytes(GOOD_LINKS.with_columns(pl.lit("abc").alias("annual_value_usd"))),
        "INVALID_LINKS",
        "links.parquet[1].annual_value_usd",
        "must be a number",
    ),
    (
        "links.parquet",
        parquet_bytes(GOOD_LINKS.with_columns(pl.lit(float("nan")).alias("annual_value_usd"))),
        "INVALID_LINKS",
        "links.parquet[1].annual_value_usd",
        "finite",
    ),
    (
        "links.parquet",
        parquet_bytes(GOOD_LINKS.with_columns(pl.lit(-1.0).alias("annual_value_usd"))),
        "INVALID_LINKS",
        "links.parquet[1].annual_value_usd",
        ">= 0",
    ),
    (
        "links.parquet",
        parquet_bytes(GOOD_LINKS.drop("hs_code")),
        "INVALID_COLUMNS",
        "links.parquet.hs_code",
        "missing required column",
    ),
    (
        "companies.parquet",
        parquet_bytes(GOOD_COMPANIES.with_columns(pl.col("name").cast(pl.Binary))),
        "INVALID_COLUMNS",
        "companies.parquet.name",
        "must be text",
    ),
    (
        "companies.parquet",
        parquet_bytes(GOOD_COMPANIES.with_columns(pl.lit(None, pl.String).alias("company_id"))),
        "INVALID_COMPANIES",
        "companies.parquet[1].company_id",
        "is required",
    ),
    ("companies.parquet", b"PAR1 this is not parquet", "UNREADABLE_FILE", "companies.parquet", "cannot be read"),
    # Encodings, huge cells, and the CSV cases above again in Parquet.
    (
        "companies.csv",
        "company_id,name,country\nA,Alpha,US\n".encode("utf-16"),
        "INVALID_ENCODING",
        "companies.csv",
        "line 1: not valid UTF-8",
    ),
    (
        "companies.csv",
        "company_id,name,country\nA,Alpha,US\nB,Bêta,CN\n".encode("latin-1"),
        "INVALID_ENCODING",
        "companies.csv",
        "line 3: not valid UTF-8",
    ),
    (
        "companies.csv",
        b"company_id,name,country\nA," + HUGE_CELL + b",US\n",
        "INVALID_COMPANIES",
        "companies.csv[1].name",
        "at most 512",
    ),
    (
        "links.csv",
        b"supplier_id,buyer_id,hs_code\nB,A,850511\n",
        "INVALID_COLUMNS",
        "links.csv.annual_value_usd",
        "missing required",
    ),
    (
        "companies.parquet",
        parquet_bytes(GOOD_COMPANIES.with_columns(pl.lit(HUGE_CELL.decode()).alias("name"))),
        "INVALID_COMPANIES",
        "companies.parquet[1].name",
        "at most 512",
    ),
    (
        "companies.parquet",
        parquet_bytes(GOOD_COMPANIES.with_columns(pl.Series("country", [1, 2]))),
        "INVALID_COMPANIES",
        "companies.parquet[1].country",
        "ISO 3166-1 alpha-2",
    ),
    (
        "companies.parquet",
        parquet_bytes(GOOD_COMPANIES.with_columns(pl.Series("name", [["Alpha"], ["Beta"]]))),
        "INVALID_COLUMNS",
        "companies.parquet.name",
        "must be text",
    ),
    (
        "companies.parquet",
        parquet_bytes(GOOD_COMPANIES.with_columns(pl.lit("A").alias("company_id"))),
        "INVALID_COMPANIES",
        "companies.parquet[2].company_id",
        "duplicates",
    ),
    (
        "links.parquet",
        parquet_bytes(GOOD_LINKS.with_columns(pl.lit(float("inf")).alias("annual_value_usd"))),
        "INVALID_LINKS",
        "links.parquet[1].annual_value_usd",
        "finite",
    ),
    (
        "links.parquet",
        parquet_bytes(GOOD_LINKS.with_columns(pl.lit("Q").alias("supplier_id"))),
        "INVALID_LINKS",
        "links.parquet[1].supplier_id",
        "existing company_id",
    ),
    (
        "links.parquet",
        parquet_bytes(pl.concat([GOOD_LINKS, GOOD_LINKS.with_columns(pl.lit("8505.11").alias("hs_code"))])),
        "INVALID_LINKS",
        "links.parquet[2].hs_code",
        "duplicates",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "reason", "field", "text"), CORPUS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CORPUS)]
)
def test_malformed_file_is_refused_with_row_and_column_and_changes_nothing(
    loaded: ChokepointClient, tmp_path: Path, name: str, content: bytes, reason: str, field: str, text: str
) -> None:
    before = snapshot(loaded, tmp_path / "before")
    good = {
        "companies": write(
            tmp_path,
            f"good_companies.{name.split('.')[1]}",
            parquet_bytes(GOOD_COMPANIES) if name.endswith("parquet") else GOOD_COMPANIES.write_csv(),
        ),
        "links": write(
            tmp_path,
            f"good_links.{name.split('.')[1]}",
            parquet_bytes(GOOD_LINKS) if name.endswith("parquet") else GOOD_LINKS.write_csv(),
        ),
    }
    bad = write(tmp_path / "before", name, content)
    files = {**good, name.split(".", maxsplit=1)[0]: bad}
    with pytest.raises(InvalidArgumentError) as caught:
        loaded.import_graph(files["companies"], files["links"])
    assert caught.value.reason == reason
    assert field in [violation.field for violation in caught.value.violations], caught.value.violations
    assert text in caught.value.message
    assert name in caught.value.message
    assert snapshot(loaded, tmp_path / "after") == before


def test_a_utf8_byte_order_mark_is_ignored(client: ChokepointClient, tmp_path: Path) -> None:
    """Spreadsheets save CSV with a BOM; it must not become part of the first column's name."""
    companies = write(tmp_path, "companies.csv", b"\xef\xbb\xbf" + COMPANIES_CSV.encode())
    links = write(tmp_path, "links.csv", b"\xef\xbb\xbf" + LINKS_CSV.encode())
    ack = client.import_graph(companies, links)
    assert (ack.company_count, ack.link_count) == (3, 3)
    assert client.get_company("A").name == "Alpha Inc"
