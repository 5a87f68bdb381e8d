"""Synthetic VPC flow log records (version 5) for the ingest benchmarks.

The v5 custom field order of `../shared/samples/vpcflow/v5-custom.log`, for the interfaces,
instances and addresses of the demo inventory and one stranger: east-west traffic (some of it
between tenants), the shared DNS service, the internet both ways, rejects and NODATA records.
Seeded, so runs repeat.
"""

from __future__ import annotations

import random

from bench.corpus import Corpus
from bench.synth_cloud import PUBLIC_IPS, VM_IPS
from bench.synth_hypervisor import BASE_TIME

FLOW_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start "
    "end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr "
    "region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service "
    "flow-direction traffic-path"
)
# (account, eni, vpc, subnet, instance, address) of the inventory's VMs, and of a stranger
FLOW_SOURCES = [
    tuple(row.split())
    for row in (
        "111111111111 eni-0acme0001 vpc-0acme01 subnet-0acme01 i-0acme0000000001 10.1.0.11",
        "111111111111 eni-0acme0002 vpc-0acme01 subnet-0acme01 i-0acme0000000002 10.1.0.12",
        "222222222222 eni-0globex0001 vpc-0globex01 subnet-0globex01 i-0globex000000001 10.2.0.21",
        "017622104382 eni-0initech0001 vpc-0initech01 subnet-0initech01 i-786a3A8B5C0d92eF4 "
        "10.3.0.15",
        "756680937392 eni-0umbrella0001 vpc-0umbrella01 subnet-0umbrella01 i-0umbrella0000001 "
        "10.4.0.31",
        "424242424242 eni-0stranger001 vpc-0stranger01 subnet-0stranger01 i-0ffffffffffffff9 "
        "172.31.5.9",
    )
]


def vpcflow(records: int, seed: int = 5) -> Corpus:
    """VPC flow log v5 records under the v5 custom header (which starts every piece)."""
    rng = random.Random(seed)
    units: list[list[str]] = []
    start = BASE_TIME
    for i in range(records):
        if i % 500 == 0:
            start += 60
        account, eni, vpc, subnet, instance, addr = rng.choice(FLOW_SOURCES)
        az = rng.choice(("cnn1-az1", "cnn1-az2"))
        tail = f"{vpc} {subnet} {instance}"
        if rng.random() < 0.02:
            units.append(
                [
                    f"5 {account} {eni} - - - - - - - {start} {start + 60} - NODATA {tail} "
                    f"- - - - cn-north-1 {az} - - - - - -"
                ]
            )
            continue
        peer = rng.random()
        if peer < 0.3:
            other = rng.choice(VM_IPS)  # east-west, maybe across tenants
            dport, proto = rng.choice(((5432, 6), (443, 6), (8080, 6), (6379, 6)))
        elif peer < 0.45:
            other, dport, proto = "10.255.0.2", 53, 17  # the shared DNS service
        else:
            other = rng.choice([*PUBLIC_IPS, f"52.{rng.randrange(256)}.{rng.randrange(256)}.9"])
            dport, proto = rng.choice(((443, 6), (80, 6), (22, 6), (123, 17)))
        sport = rng.randrange(32_768, 61_000)
        packets = rng.randrange(1, 400)
        nbytes = packets * rng.randrange(40, 1500)
        egress = rng.random() < 0.6
        action = "ACCEPT" if rng.random() < 0.93 else "REJECT"
        flags = rng.choice((2, 3, 18, 19)) if proto == 6 else 0
        src, dst = (addr, other) if egress else (other, addr)
        sp, dp = (sport, dport) if egress else (dport, sport)
        path = rng.choice(("1", "2", "8")) if egress else "-"
        units.append(
            [
                f"5 {account} {eni} {src} {dst} {sp} {dp} {proto} {packets} {nbytes} {start} "
                f"{start + 60} {action} OK {tail} {flags} IPv4 {src} {dst} cn-north-1 {az} - - - - "
                f"{'egress' if egress else 'ingress'} {path}"
            ]
        )
    return Corpus.of("vpcflow", "vpcflow", units, host_id=None, header=(FLOW_HEADER,))
