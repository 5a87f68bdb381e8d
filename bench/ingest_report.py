"""The tables of `bench.ingest_throughput`: a `Run` per stage and repetition, medians of runs."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import k, median, table


@dataclass
class Run:
    name: str
    stage: str
    run: int
    records: int
    events: int
    seconds: float
    in_bytes: int
    out_bytes: int = 0
    cpu_s: float = 0.0
    broker_cpu_s: float = 0.0


PARSE_COLUMNS = ["input", "records", "MB", "read s", "parse rec/s", "ev/s", "s"]
PARSE_COLUMNS += ["+attr rec/s", "ev/s", "s", "CPU %", "peak RSS MB"]
KAFKA_COLUMNS = ["input", "events", "ev/s", "MB/s in", "MB/s out", "s", "no-Kafka s", "CPU s"]
KAFKA_COLUMNS += ["broker CPU s", "RSS start MB", "peak RSS MB", "read back"]


def report(runs: list[Run], infos: list[dict[str, object]]) -> None:
    """Medians over the runs. CPU % is the lowest CPU time / wall time of this process among the
    parse and attribute runs: below ~95 % something else on the machine took the CPU.
    "no-Kafka s" is the `route` stage: the same `Ingestor` into a sink that accepts at once."""

    def of(name: str, stage: str) -> list[Run]:
        return [r for r in runs if r.name == name and r.stage == stage]

    def rate(name: str, stage: str, field: str) -> float:
        return median(float(getattr(r, field)) / r.seconds for r in of(name, stage))

    def med(name: str, stage: str, field: str) -> str:
        return f"{median(float(getattr(r, field)) for r in of(name, stage)):.2f}"

    stages = {r.stage for r in runs}
    rows: list[list[object]] = []
    for info in infos:
        n = str(info["name"])
        row: list[object] = [n, info["records"], f"{float(str(info['in_bytes'])) / 1e6:.1f}"]
        row.append(med(n, "read", "seconds") if "read" in stages else "-")
        for stage in ("parse", "attribute"):
            if stage in stages:
                row += [k(rate(n, stage, "records")), k(rate(n, stage, "events"))]
                row.append(med(n, stage, "seconds"))
            else:
                row += ["-", "-", "-"]
        busy = [r.cpu_s / r.seconds for st in ("parse", "attribute") for r in of(n, st)]
        row += [f"{100 * min(busy):.0f}" if busy else "-", info["peak_rss_parse_mb"]]
        rows.append(row)
    print("\nparse only | parse + attribution, no Kafka (median of runs)")
    print(table(PARSE_COLUMNS, rows))
    if "kafka" not in stages:
        return
    rows = []
    for info in infos:
        n = str(info["name"])
        verified = info.get("verified")
        rows.append(
            [
                n,
                k(float(med(n, "kafka", "events"))),
                k(rate(n, "kafka", "events")),
                f"{rate(n, 'kafka', 'in_bytes') / 1e6:.1f}",
                f"{rate(n, 'kafka', 'out_bytes') / 1e6:.1f}",
                med(n, "kafka", "seconds"),
                med(n, "route", "seconds") if "route" in stages else "-",
                med(n, "kafka", "cpu_s"),
                med(n, "kafka", "broker_cpu_s"),
                info["rss_start_mb"],
                info.get("peak_rss_kafka_mb"),
                "/".join(map(str, verified)) if isinstance(verified, list) else "-",
            ]
        )
    print("\nend to end: raw lines -> acknowledged messages (median of runs)")
    print(table(KAFKA_COLUMNS, rows))
