"""The regulator feed: incidents as STIX 2.1 (`fenghuo.intel.stix`), TAXII 2.1 collections of
precomputed objects (`fenghuo.intel.collections`, `fenghuo.intel.objects`, served by
`fenghuo.intel.taxii`), the push to regulators' own TAXII servers (`fenghuo.intel.push`), and the
national incident reports with their deadlines (`fenghuo.intel.reports`).
"""
