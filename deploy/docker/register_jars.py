"""Build step of the Flink image: hand the connector jars already in Flink's lib/ to Fenghuo.

`fenghuo stream` names the Kafka connector jars in `pipeline.jars` through
`fenghuo.flink_env.kafka_jars()`, which resolves the pinned `flink-kafka` jar set with Maven on
first use. The image has no Maven: this script installs the set from the jars the Dockerfile
downloaded (and checked against their sha256) into the package's artifacts folder, through
`fenghuo.maven_jars.ensure_jars`, which verifies every jar against the package's own
`jars.lock` once more and refuses a missing, extra or altered one.

Usage: python register_jars.py /opt/flink/lib
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from fenghuo.maven_jars import JarSet, Resolver, ensure_jars, load_jar_sets
from fenghuo.streaming.flink_env import KAFKA_JAR_SET


def copy_from(folder: Path) -> Resolver:
    """A resolver that copies the set's jars from `folder` instead of running Maven."""

    def resolve(jar_set: JarSet, dest: Path) -> None:
        for name in jar_set.jars:
            shutil.copyfile(folder / name, dest / name)

    return resolve


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: register_jars.py FLINK_LIB_DIR\n")
        return 2
    jar_set = load_jar_sets()[KAFKA_JAR_SET]
    target = ensure_jars(jar_set, resolve=copy_from(Path(argv[1])))
    sys.stdout.write(f"{jar_set.name}: {sorted(jar_set.jars)} verified into {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
