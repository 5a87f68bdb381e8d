"""Tokenise one raw auditd line into an `AuditRecord`.

A line is `[node=NAME ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): key=value ...`. Values are
`"quoted"`, bare, or hex when the kernel saw characters it will not print (a space, a quote, a
control byte): which fields may be hex is fixed per field name, so only those are decoded. User
space records wrap their own key=values in `msg='...'`; those are parsed into the same dict.

Everything here is str methods and module-level compiled patterns: this runs for every line.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from typing import Final

# The header may follow other text (a syslog prefix); `node=` is auditd's name_format prefix.
_HEADER: Final = re.compile(
    r"(?:node=(?P<node>\S+) +)?type=(?P<type>\S+) +msg=audit\("
    r"(?P<sec>\d{1,12})\.(?P<ms>\d{1,6}):(?P<serial>\d{1,20})\):? *"
)
# key=value where the key starts a word; the value is "...", '...' (unterminated allowed) or bare.
_FIELD: Final = re.compile(r"(?<!\S)([^\s=]+)=(\"[^\"]*\"?|'[^']*'?|\S*)")
_HEX: Final = re.compile(r"(?:[0-9A-F]{2})+")
_EXECVE_ARG: Final = re.compile(r"a\d+(?:\[\d+\])?")
_AVC: Final = re.compile(r"avc:\s+(denied|granted)\s+\{\s*([^}]*?)\s*\}")

# Fields the kernel or libaudit print with audit_log_untrustedstring: quoted, or hex when unsafe.
ENCODED_FIELDS: Final = frozenset(
    {
        "acct", "cmd", "comm", "cwd", "data", "dir", "exe", "file", "grp", "key", "name",
        "new-chardev", "new-disk", "new-fs", "new-net", "new-rng", "new_group", "ocomm",
        "old-chardev", "old-disk", "old-fs", "old-net", "old-rng", "path", "proctitle",
        "root_dir", "sw", "vm", "watch",
    }
)  # fmt: skip

_LATEST_TIMESTAMP: Final = 253402300799  # 9999-12-31T23:59:59Z, the last second datetime holds

# Record type names -> numbers (linux/audit.h, libaudit.h) for the ranges the reassembler needs.
# fmt: off
RECORD_TYPES: Final[dict[str, int]] = {
    "LOGIN": 1006, "USER": 1005,
    "USER_AUTH": 1100, "USER_ACCT": 1101, "USER_MGMT": 1102, "CRED_ACQ": 1103, "CRED_DISP": 1104,
    "USER_START": 1105, "USER_END": 1106, "USER_AVC": 1107, "USER_CHAUTHTOK": 1108,
    "USER_ERR": 1109, "CRED_REFR": 1110, "USYS_CONFIG": 1111, "USER_LOGIN": 1112,
    "USER_LOGOUT": 1113, "ADD_USER": 1114, "DEL_USER": 1115, "ADD_GROUP": 1116,
    "DEL_GROUP": 1117, "DAC_CHECK": 1118, "CHGRP_ID": 1119, "TEST": 1120, "TRUSTED_APP": 1121,
    "USER_SELINUX_ERR": 1122, "USER_CMD": 1123, "USER_TTY": 1124, "CHUSER_ID": 1125,
    "GRP_AUTH": 1126, "SYSTEM_BOOT": 1127, "SYSTEM_SHUTDOWN": 1128, "SYSTEM_RUNLEVEL": 1129,
    "SERVICE_START": 1130, "SERVICE_STOP": 1131, "GRP_MGMT": 1132, "GRP_CHAUTHTOK": 1133,
    "MAC_CHECK": 1134, "ACCT_LOCK": 1135, "ACCT_UNLOCK": 1136, "USER_DEVICE": 1137,
    "SOFTWARE_UPDATE": 1138,
    "DAEMON_START": 1200, "DAEMON_END": 1201, "DAEMON_ABORT": 1202, "DAEMON_CONFIG": 1203,
    "DAEMON_RECONFIG": 1204, "DAEMON_ROTATE": 1205, "DAEMON_RESUME": 1206,
    "DAEMON_ACCEPT": 1207, "DAEMON_CLOSE": 1208, "DAEMON_ERR": 1209,
    "SYSCALL": 1300, "FS_WATCH": 1301, "PATH": 1302, "IPC": 1303, "SOCKETCALL": 1304,
    "CONFIG_CHANGE": 1305, "SOCKADDR": 1306, "CWD": 1307, "EXECVE": 1309, "IPC_SET_PERM": 1311,
    "MQ_OPEN": 1312, "MQ_SENDRECV": 1313, "MQ_NOTIFY": 1314, "MQ_GETSETATTR": 1315,
    "KERNEL_OTHER": 1316, "FD_PAIR": 1317, "OBJ_PID": 1318, "TTY": 1319, "EOE": 1320,
    "BPRM_FCAPS": 1321, "CAPSET": 1322, "MMAP": 1323, "NETFILTER_PKT": 1324,
    "NETFILTER_CFG": 1325, "SECCOMP": 1326, "PROCTITLE": 1327, "FEATURE_CHANGE": 1328,
    "REPLACE": 1329, "KERN_MODULE": 1330, "FANOTIFY": 1331, "TIME_INJOFFSET": 1332,
    "TIME_ADJNTPVAL": 1333, "BPF": 1334, "EVENT_LISTENER": 1335, "URINGOP": 1336,
    "OPENAT2": 1337, "DM_CTRL": 1338, "DM_EVENT": 1339,
    "AVC": 1400, "SELINUX_ERR": 1401, "AVC_PATH": 1402, "MAC_POLICY_LOAD": 1403,
    "MAC_STATUS": 1404, "MAC_CONFIG_CHANGE": 1405,
    "APPARMOR_AUDIT": 1501, "APPARMOR_ALLOWED": 1502, "APPARMOR_DENIED": 1503,
    "APPARMOR_HINT": 1504, "APPARMOR_STATUS": 1505, "APPARMOR_ERROR": 1506,
    "ANOM_PROMISCUOUS": 1700, "ANOM_ABEND": 1701, "ANOM_LINK": 1702, "ANOM_CREAT": 1703,
    "KERNEL": 2000,
    "ANOM_LOGIN_FAILURES": 2100, "ANOM_LOGIN_TIME": 2101, "ANOM_LOGIN_SESSIONS": 2102,
    "ANOM_LOGIN_ACCT": 2103, "ANOM_LOGIN_LOCATION": 2104, "ANOM_EXEC": 2112,
    "RESP_ANOMALY": 2200, "RESP_ALERT": 2201, "RESP_KILL_PROC": 2202,
    "USER_ROLE_CHANGE": 2300, "ROLE_ASSIGN": 2301, "ROLE_REMOVE": 2302,
    "USER_MAC_POLICY_LOAD": 2310, "ROLE_MODIFY": 2311, "USER_MAC_CONFIG_CHANGE": 2312,
    "USER_MAC_STATUS": 2313,
    "CRYPTO_TEST_USER": 2400, "CRYPTO_PARAM_CHANGE_USER": 2401, "CRYPTO_LOGIN": 2402,
    "CRYPTO_LOGOUT": 2403, "CRYPTO_KEY_USER": 2404, "CRYPTO_FAILURE_USER": 2405,
    "CRYPTO_REPLAY_USER": 2406, "CRYPTO_SESSION": 2407, "CRYPTO_IKE_SA": 2408,
    "CRYPTO_IPSEC_SA": 2409,
    "VIRT_CONTROL": 2500, "VIRT_RESOURCE": 2501, "VIRT_MACHINE_ID": 2502,
    "VIRT_INTEGRITY_CHECK": 2503, "VIRT_CREATE": 2504, "VIRT_DESTROY": 2505,
    "VIRT_MIGRATE_IN": 2506, "VIRT_MIGRATE_OUT": 2507,
}
# fmt: on
_USER_PREFIXES: Final = ("USER_", "CRED_", "DAEMON_", "CRYPTO_", "VIRT_", "ANOM_LOGIN_", "RESP_")


class Flush(enum.Enum):
    """When the reassembler may emit the event a record belongs to."""

    WAIT = "wait"  # part of a multi-record kernel event: wait for EOE (or age/limit)
    ALONE = "alone"  # a user-space or daemon message: always a one-record event
    UNLESS_FOLLOWED = "unless_followed"  # SECCOMP, ANOM_ABEND: logged outside syscall context
    END = "end"  # EOE closes the event


@functools.lru_cache(maxsize=1024)
def record_type_number(type_name: str) -> int | None:
    """`SYSCALL` -> 1300; `UNKNOWN[1329]` -> 1329 (auditd's spelling for types it does not know)."""
    if type_name.startswith("UNKNOWN[") and type_name.endswith("]"):
        digits = type_name[8:-1]
        return int(digits) if digits.isdigit() and len(digits) < 10 else None
    return RECORD_TYPES.get(type_name)


@functools.lru_cache(maxsize=1024)
def flush_policy(type_name: str) -> Flush:
    """User-space (1005, 1100-1299, 2000-2999) records never share their serial with another."""
    if type_name == "EOE":
        return Flush.END
    if type_name in ("SECCOMP", "ANOM_ABEND"):
        return Flush.UNLESS_FOLLOWED
    number = record_type_number(type_name)
    if number is None:
        return Flush.ALONE if type_name.startswith(_USER_PREFIXES) else Flush.WAIT
    if number == 1005 or 1100 <= number <= 1299 or 2000 <= number <= 2999:
        return Flush.ALONE
    return Flush.WAIT


@dataclass(slots=True)
class AuditRecord:
    """One tokenised line. `fields` holds decoded values (quotes removed, hex decoded)."""

    node: str | None
    type: str
    seconds: str
    millis: str
    serial: str
    fields: dict[str, str]
    source: str
    line: int
    text: str

    @property
    def record_id(self) -> str:
        return f"{self.seconds}.{self.millis}:{self.serial}"


@dataclass(slots=True, frozen=True)
class BadRecord:
    """Why a line is not an audit record."""

    reason: str


def decode_hex(value: str) -> str:
    """Hex as auditd writes it -> text (invalid UTF-8 replaced, NULs kept for argv splitting)."""
    return bytes.fromhex(value).decode("utf-8", "replace")


def parse_fields(body: str, *, execve: bool = False) -> dict[str, str]:
    """key=value pairs of a record body; first occurrence wins, bare words are skipped.

    A single-quoted `msg='...'` (user-space records) is kept as `msg` and its own pairs are added
    where they do not collide with the outer ones.
    """
    fields: dict[str, str] = {}
    inner: str | None = None
    for key, raw in _FIELD.findall(body):
        if key in fields:
            continue
        quote = raw[:1]
        if quote == '"' or quote == "'":
            value = raw[1:-1] if len(raw) > 1 and raw[-1] == quote else raw[1:]
            fields[key] = value
            if quote == "'" and key == "msg":
                inner = value
        elif key in ENCODED_FIELDS or (execve and _EXECVE_ARG.fullmatch(key)):
            stripped = raw.rstrip('"')  # tolerate a stray closing quote
            fields[key] = decode_hex(stripped) if _HEX.fullmatch(stripped) else raw
        else:
            fields[key] = raw
    if inner is not None:
        for key, value in parse_fields(inner).items():
            fields.setdefault(key, value)
    return fields


def parse_record(source: str, line: int, text: str) -> AuditRecord | BadRecord:
    """Tokenise one line; a line without an audit header is a `BadRecord`, never an exception."""
    match = _HEADER.search(text)
    if match is None:
        if "type=" in text:
            return BadRecord("no msg=audit(SECONDS.MILLIS:SERIAL) header")
        return BadRecord("not an audit record: no type=... msg=audit(...) header")
    seconds = match.group("sec")
    if int(seconds) > _LATEST_TIMESTAMP:
        return BadRecord(f"audit timestamp {seconds} out of range")
    type_name = match.group("type")
    body = text[match.end() :]
    if "\x1d" in body:  # log_format=ENRICHED appends interpreted fields after a GS byte
        body = body.replace("\x1d", " ")
    fields = parse_fields(body, execve=type_name == "EXECVE")
    if "avc:" in body:
        avc = _AVC.search(body)
        if avc is not None:
            fields.setdefault("seresult", avc.group(1))
            fields.setdefault("seperms", ",".join(avc.group(2).split()))
    return AuditRecord(
        node=match.group("node"),
        type=type_name,
        seconds=seconds,
        millis=match.group("ms"),
        serial=match.group("serial"),
        fields=fields,
        source=source,
        line=line,
        text=text,
    )
