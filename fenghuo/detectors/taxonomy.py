"""Classification vocabularies alerts carry: GB/T 20986-2023 categories and ATT&CK ids.

GB/T 20986-2023 sorts cybersecurity incidents into ten categories (two-digit codes, Appendix B);
each has subcategories with five-digit codes (category + three digits). Fenghuo's detectors are
classified by category code. Subcategory codes are not assigned here: they must be taken from
the standard's Appendix B text, which is not public; see the project notes.
"""

from __future__ import annotations

import re

GBT20986_CATEGORIES: dict[str, tuple[str, str]] = {
    "01": ("恶意程序事件", "malicious program incident"),
    "02": ("网络攻击事件", "cyber attack incident"),
    "03": ("数据安全事件", "data security incident"),
    "04": ("信息内容安全事件", "information content security incident"),
    "05": ("设备设施故障事件", "equipment or facility failure incident"),
    "06": ("违规操作事件", "violation of operating rules incident"),
    "07": ("安全隐患事件", "security hazard incident"),
    "08": ("异常行为事件", "abnormal behaviour incident"),
    "09": ("不可抗力事件", "force majeure incident"),
    "10": ("其他事件", "other incident"),
}

CYBER_ATTACK = "02"
DATA_SECURITY = "03"
ABNORMAL_BEHAVIOUR = "08"

_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


def is_category(code: str) -> bool:
    return code in GBT20986_CATEGORIES


def is_technique(technique: str) -> bool:
    return bool(_TECHNIQUE.match(technique))
