"""VPC flow log parser: samples, field orders, bad records, robustness, determinism."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fenghuo.ingest.parsers import ParseContext, ParseResult
from fenghuo.ingest.parsers.vpcflow import DEFAULT_FIELDS, VpcFlowParser
from fenghuo.model import Flow, decode_event, encode_event
from tests.ingest.parsers.helpers import NOW, check_results, errors, only, run

V2_HEADER = " ".join(DEFAULT_FIELDS)
V2_LINE = "2 111111111111 eni-0acme0001 10.1.0.11 10.1.0.12 49152 5432 6 20 4249 1767607200 1767607260 ACCEPT OK"  # noqa: E501


def parse(lines: list[str], source: str = "flows.log") -> list[ParseResult]:
    return run(VpcFlowParser(ParseContext(clock=lambda: NOW)), lines, source)


def flows(results: list[ParseResult]) -> list[Flow]:
    return only(results, Flow)


def sample_lines(samples: Path, name: str) -> list[str]:
    return (samples / "vpcflow" / name).read_text().splitlines()


def utc(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


# --- samples ----------------------------------------------------------------------------------


def test_v2_default_sample(samples: Path) -> None:
    events = flows(parse(sample_lines(samples, "v2-default.log"), "v2-default.log"))

    assert len(events) == 4
    first, _dns, rejected, nodata = events
    assert first.version == 2
    assert first.account_id == "111111111111"
    assert first.interface_id == "eni-0acme0001"
    assert (first.src_addr, first.dst_addr) == ("10.1.0.11", "10.1.0.12")
    assert (first.src_port, first.dst_port, first.protocol) == (49152, 5432, 6)
    assert (first.packets, first.bytes) == (20, 4249)
    assert first.start == first.event_time == utc(1767607200)
    assert first.end == utc(1767607260)
    assert first.action == "ACCEPT"
    assert first.log_status == "OK"
    assert first.ingest_time == NOW
    assert first.source_format == "vpcflow"
    assert first.raw.source == "v2-default.log"
    assert [e.raw.line for e in events] == [2, 3, 4, 5]
    assert first.vpc_id is None  # not in the v2 format
    assert first.attribution == "pending"

    assert rejected.action == "REJECT"
    assert rejected.src_addr == "203.0.113.7"
    assert rejected.dst_port == 22

    assert nodata.log_status == "NODATA"
    assert nodata.account_id == "111111111111"
    assert nodata.interface_id == "eni-0acme0001"
    traffic = (nodata.src_addr, nodata.dst_addr, nodata.src_port, nodata.dst_port)
    assert traffic == (None, None, None, None)
    assert (nodata.protocol, nodata.packets, nodata.bytes, nodata.action) == (None,) * 4
    assert nodata.event_time == utc(1767607260)


def test_v5_custom_sample(samples: Path) -> None:
    events = flows(parse(sample_lines(samples, "v5-custom.log")))

    assert len(events) == 3
    first, second, nodata = events
    assert first.version == 5
    assert first.vpc_id == "vpc-0acme01"
    assert first.subnet_id == "subnet-0acme01"
    assert first.instance_id == "i-0acme0000000001"
    assert first.tcp_flags == 3
    assert first.traffic_type == "IPv4"
    assert (first.pkt_src_addr, first.pkt_dst_addr) == ("10.1.0.11", "10.2.0.21")
    assert (first.region, first.az_id) == ("cn-north-1", "cnn1-az1")
    assert first.flow_direction == "egress"
    assert first.traffic_path == 1
    assert second.dst_addr == "198.51.100.20"
    assert second.traffic_path == 8
    assert second.tcp_flags == 19

    assert nodata.log_status == "NODATA"
    assert (nodata.vpc_id, nodata.subnet_id) == ("vpc-0acme01", "subnet-0acme01")
    assert nodata.instance_id == "i-0acme0000000001"
    assert nodata.region == "cn-north-1"
    assert (nodata.src_addr, nodata.tcp_flags, nodata.traffic_type) == (None, None, None)
    assert (nodata.flow_direction, nodata.traffic_path) == (None, None)


def test_samples_are_deterministic(samples: Path) -> None:
    for name in ("v2-default.log", "v5-custom.log"):
        lines = sample_lines(samples, name)
        first = flows(parse(lines))
        again = flows(parse(lines))
        assert [e.id for e in first] == [e.id for e in again]
        assert first == again
        assert len({e.id for e in first}) == len(first)


def test_identical_lines_are_the_same_record() -> None:
    events = flows(parse([V2_LINE, V2_LINE + "  ", "  " + V2_LINE]))
    assert len({e.id for e in events}) == 1


# --- field orders -----------------------------------------------------------------------------


def test_without_header_the_v2_default_order_is_assumed(samples: Path) -> None:
    with_header = flows(parse(sample_lines(samples, "v2-default.log")))
    without = flows(parse(sample_lines(samples, "v2-default.log")[1:]))
    assert [e.id for e in without] == [e.id for e in with_header]
    assert [e.src_addr for e in without] == [e.src_addr for e in with_header]


def test_a_header_mid_stream_switches_the_order(samples: Path) -> None:
    lines = sample_lines(samples, "v2-default.log") + sample_lines(samples, "v5-custom.log")
    events = flows(parse(lines))
    assert [e.version for e in events] == [2, 2, 2, 2, 5, 5, 5]
    assert events[4].vpc_id == "vpc-0acme01"
    assert [e.raw.line for e in events] == [2, 3, 4, 5, 7, 8, 9]


def test_custom_order_and_version_inferred_without_a_version_field() -> None:
    events = flows(
        parse(
            [
                "start end srcaddr dstaddr vpc-id action",
                "1767607200 1767607260 10.1.0.11 10.9.9.9 vpc-0acme01 ACCEPT",
            ]
        )
    )
    (event,) = events
    assert event.version == 3  # the highest version among the fields, as AWS defines it
    assert event.vpc_id == "vpc-0acme01"
    assert event.src_port is None
    assert event.log_status == "OK"


def test_unmapped_and_unknown_fields_are_kept_in_extra() -> None:
    header = V2_HEADER + " pkt-src-aws-service ecs-cluster-name reject-reason some-future-field"
    line = V2_LINE.replace("2 ", "8 ", 1) + " S3 prod-cluster - whatever"
    (event,) = flows(parse([header, line]))
    assert event.version == 8
    assert event.bytes == 4249
    assert event.extra == {  # reject-reason is absent (`-`): not kept
        "pkt-src-aws-service": "S3",
        "ecs-cluster-name": "prod-cluster",
        "some-future-field": "whatever",
    }
    assert decode_event(encode_event(event)) == event


def test_sublocation_and_reject_reason_in_extra() -> None:
    header = V2_HEADER + " sublocation-type sublocation-id pkt-dst-aws-service reject-reason"
    line = V2_LINE.replace("2 ", "8 ", 1).replace("ACCEPT", "REJECT")
    (event,) = flows(parse([header, line + " outpost op-0abc - BPA"]))
    assert event.action == "REJECT"
    assert event.extra == {
        "sublocation-type": "outpost",
        "sublocation-id": "op-0abc",
        "reject-reason": "BPA",
    }
    (plain,) = flows(parse([V2_LINE]))
    assert plain.extra == {}


def test_ipv6_addresses_are_normalised() -> None:
    line = V2_LINE.replace("10.1.0.11 10.1.0.12", "2001:DB8::0001 2001:db8:0:0::2")
    (event,) = flows(parse([line]))
    assert (event.src_addr, event.dst_addr) == ("2001:db8::1", "2001:db8::2")


def test_skipdata_record() -> None:
    line = "2 111111111111 eni-0acme0001 - - - - - - - 1767607200 1767607260 - SKIPDATA"
    (event,) = flows(parse([line]))
    assert event.log_status == "SKIPDATA"
    assert event.packets is None


def test_blank_lines_yield_nothing() -> None:
    assert flows(parse(["", V2_HEADER, "   ", V2_LINE, ""])) != []
    assert parse(["", "  "]) == []


# --- bad records ------------------------------------------------------------------------------


def _with(field: str, value: str) -> str:
    tokens = V2_LINE.split()
    tokens[DEFAULT_FIELDS.index(field)] = value
    return " ".join(tokens)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (V2_LINE + " extra", "expected 14 fields (header on line 1), got 15"),
        (" ".join(V2_LINE.split()[:-1]), "expected 14 fields (header on line 1), got 13"),
        (_with("srcport", "http"), "srcport: not a port number: 'http'"),
        (_with("dstport", "70000"), "dstport: port number out of range: 70000"),
        (_with("dstport", "-1"), "dstport: not a port number: '-1'"),
        (_with("bytes", "4k"), "bytes: not a non-negative integer: '4k'"),
        (_with("packets", "１２"), "packets: not a non-negative integer: '１２'"),
        (_with("protocol", "256"), "protocol: IANA protocol number out of range: 256"),
        (_with("srcaddr", "10.1.0.300"), "srcaddr: not an IP address: '10.1.0.300'"),
        (_with("dstaddr", "host.example"), "dstaddr: not an IP address: 'host.example'"),
        (_with("action", "DROP"), "action: 'DROP' is not one of ACCEPT, REJECT"),
        (_with("log-status", "FINE"), "log-status: 'FINE' is not one of OK, NODATA, SKIPDATA"),
        (_with("version", "6"), "version: unknown flow log version 6 (known: 2-5, 7, 8)"),
        (_with("version", "1"), "version: unknown flow log version 1 (known: 2-5, 7, 8)"),
        (_with("version", "v2"), "version: not a version number: 'v2'"),
        (_with("start", "-"), "start is absent: a flow needs its time window"),
        (_with("end", "soon"), "end: not a unix time in seconds: 'soon'"),
    ],
)
def test_bad_records_are_specific_errors(line: str, reason: str) -> None:
    results = parse([V2_HEADER, V2_LINE, line, V2_LINE.replace("4249", "4250")])
    (error,) = errors(results)
    assert error.reason == reason
    assert error.line == 3
    assert error.raw == line
    assert error.source == "flows.log"
    assert error.format == "vpcflow"
    assert [r.raw.line for r in results if isinstance(r, Flow)] == [2, 4]


def test_bad_flow_direction() -> None:
    header = V2_HEADER + " flow-direction"
    results = parse([header, V2_LINE.replace("2 ", "5 ", 1) + " sideways"])
    (error,) = errors(results)
    assert error.reason == "flow-direction: 'sideways' is not one of ingress, egress"


def test_headerless_field_count_error_names_the_default_order() -> None:
    (error,) = errors(parse(["2 111111111111 eni-1 10.0.0.1"]))
    assert error.reason == "expected 14 fields (default v2 field order: no header seen), got 4"


def test_an_invalid_header_refuses_the_records_under_it() -> None:
    results = parse(
        [
            V2_HEADER,
            V2_LINE,
            "version srcaddr srcaddr start end",  # line 3: duplicate
            "2 10.0.0.1 10.0.0.2 1767607200 1767607260",
            "version srcaddr dstaddr",  # line 5: no time window
            "2 10.0.0.1 10.0.0.2",
            V2_HEADER,  # line 7: a good header again
            V2_LINE,
        ]
    )
    assert [(r.line, r.reason) for r in errors(results)] == [
        (3, "invalid header: header names srcaddr more than once"),
        (4, "no usable field order: the header on line 3 is invalid"),
        (5, "invalid header: header has no start or end field: records need their time window"),
        (6, "no usable field order: the header on line 5 is invalid"),
    ]
    assert [r.raw.line for r in results if isinstance(r, Flow)] == [2, 8]


# --- robustness -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=8))
def test_random_text_never_raises(lines: list[str]) -> None:
    check_results(parse(lines), Flow, fed=len(lines))


TOKENS = st.sampled_from(
    ["-", "", "0", "65536", "99999999999999999999999", "x", "ACCEPT", "NODATA", "::1", "1.2.3",
     "version", "srcaddr", "start", "end", "vpc-id", "5", "7", "6", "1e3", "+1", "٣"]
)  # fmt: skip


@st.composite
def mutated_lines(draw: st.DrawFn, samples: Path) -> list[str]:
    lines = sample_lines(samples, "v2-default.log") + sample_lines(samples, "v5-custom.log")
    lines = draw(st.permutations(lines))[: draw(st.integers(1, len(lines)))]
    out = []
    for line in lines:
        tokens = line.split(" ")
        for _ in range(draw(st.integers(0, 3))):
            index = draw(st.integers(0, len(tokens)))
            action = draw(st.sampled_from(["replace", "insert", "delete"]))
            value = draw(TOKENS | st.text(max_size=6))
            if action == "insert" or index == len(tokens):
                tokens.insert(index, value)
            elif action == "replace":
                tokens[index] = value
            elif len(tokens) > 1:
                del tokens[index]
        out.append(" ".join(tokens))
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_sample_lines_never_raise(samples: Path, data: st.DataObject) -> None:
    lines = data.draw(mutated_lines(samples))
    check_results(parse(lines), Flow, fed=len(lines))
