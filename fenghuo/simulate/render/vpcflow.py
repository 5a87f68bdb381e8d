"""VPC Flow Logs version 5 in the custom field order of `../shared/samples/vpcflow/v5-custom.log`,
space-separated, `-` for an absent value, under the header line object-storage delivery writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fenghuo.simulate.world import REGION

HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr "
    "pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service "
    "pkt-dst-aws-service flow-direction traffic-path"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def unix(time: dt.datetime) -> int:
    delta = time - _EPOCH
    return delta.days * 86400 + delta.seconds


@dataclass(frozen=True)
class Interface:
    """The network interface that reports the record."""

    account: str
    eni: str
    vpc: str
    subnet: str
    instance_id: str
    zone: str


def flow_line(
    nic: Interface,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    protocol: int,
    packets: int,
    size: int,
    window: tuple[dt.datetime, dt.datetime],
    action: str,
    direction: str,
    *,
    tcp_flags: int = 0,
    traffic_path: int | None = None,
) -> str:
    """One record; `traffic_path` is only logged for egress traffic."""
    path = str(traffic_path) if direction == "egress" and traffic_path is not None else "-"
    values = (
        "5",
        nic.account,
        nic.eni,
        src,
        dst,
        str(sport),
        str(dport),
        str(protocol),
        str(packets),
        str(size),
        str(unix(window[0])),
        str(unix(window[1])),
        action,
        "OK",
        nic.vpc,
        nic.subnet,
        nic.instance_id,
        str(tcp_flags),
        "IPv4",
        src,
        dst,
        REGION,
        nic.zone,
        "-",
        "-",
        "-",
        "-",
        direction,
        path,
    )
    return " ".join(values)


def nodata_line(nic: Interface, window: tuple[dt.datetime, dt.datetime]) -> str:
    """An interface that saw no traffic during the capture window."""
    values = (
        "5",
        nic.account,
        nic.eni,
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        str(unix(window[0])),
        str(unix(window[1])),
        "-",
        "NODATA",
        nic.vpc,
        nic.subnet,
        nic.instance_id,
        "-",
        "-",
        "-",
        "-",
        REGION,
        nic.zone,
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
    )
    return " ".join(values)
