"""The correlator (issue 4): an entity graph of alerts, incidents as connected alert groups,
attack-sequence rules, blast radius, risk score, GB/T 20986 grade and reporting duty.

Pure Python over networkx: no Kafka, no Flink. `fenghuo replay --incidents` runs it over the
replayed alerts; the streaming service feeds it the alert topic through `Correlator.add`.
"""

from __future__ import annotations

from fenghuo.graph.correlator import Correlator, CorrelatorConfig, correlate
from fenghuo.graph.grading import GradingPolicy, load_policy

__all__ = ["Correlator", "CorrelatorConfig", "GradingPolicy", "correlate", "load_policy"]
