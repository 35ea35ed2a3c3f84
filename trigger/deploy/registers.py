"""The trigger's AXI-Lite register block by name: one table, the map of ``hdl/trigger_regs.v``.

``tests/test_deploy.py`` reads the map from the Verilog's header and checks
that this table says the same, so the two cannot drift apart silently.
"""

from dataclasses import dataclass

__all__ = ["CONTROL_BITS", "ID_VALUE", "REGISTERS", "STATUS_BITS", "Register", "RegisterMap", "register"]

ID_VALUE = 0x4C535454  # "LSTT"


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    writable: bool
    signed: bool = False
    doc: str = ""


REGISTERS = (
    Register("id", 0x00, False, doc='"LSTT" (0x4C535454)'),
    Register("version", 0x04, False, doc="major << 16 | minor"),
    Register("control", 0x08, True, doc="bit 0 nn_enable, bit 1 asum_enable, bit 8 clear counters"),
    Register("status", 0x0C, False, doc="bit 0 queue overflow, 1 candidate too old, 2 record lost, 3 busy"),
    Register("nn_threshold", 0x10, True, signed=True, doc="network output LSBs (score * 2**f)"),
    Register("asum_threshold", 0x14, True, doc="analog-sum threshold, counts"),
    Register("scratch", 0x18, True, doc="free for software"),
    Register("gate_threshold", 0x1C, True, doc="gate of the network candidates, counts"),
    Register("nn_count", 0x20, False, doc="network passes"),
    Register("asum_count", 0x24, False, doc="analog-sum records"),
    Register("window_count", 0x28, False, doc="candidates scored"),
    Register("drop_count", 0x2C, False, doc="analog-sum records lost to back-pressure"),
    Register("cand_drop_count", 0x30, False, doc="candidates lost (queue full or ROI too old)"),
    Register("event_count", 0x34, False, doc="windows started"),
)
CONTROL_BITS = {"nn_enable": 0, "asum_enable": 1, "clear_counters": 8}
STATUS_BITS = {"queue_overflow": 0, "candidate_too_old": 1, "record_lost": 2, "busy": 3}
COUNTERS = ("nn_count", "asum_count", "window_count", "drop_count", "cand_drop_count", "event_count")
_BY_NAME = {r.name: r for r in REGISTERS}


def register(name: str) -> Register:
    """The register called ``name``; a ``KeyError`` lists the names there are."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no register {name!r}; the trigger has {', '.join(_BY_NAME)}") from None


class RegisterMap:
    """Registers by name over a port with ``read(offset)`` and ``write(offset, value)`` (32-bit words).

    ``regs["nn_threshold"] = -3``, ``regs.nn_threshold``, ``regs.dump()``.
    Signed registers read back as Python ints of their sign.
    """

    def __init__(self, port):
        object.__setattr__(self, "_port", port)

    def __getitem__(self, name: str) -> int:
        reg = register(name)
        value = int(self._port.read(reg.offset)) & 0xFFFFFFFF
        return value - (1 << 32) if reg.signed and value & 0x80000000 else value

    def __setitem__(self, name: str, value: int) -> None:
        reg = register(name)
        if not reg.writable:
            raise ValueError(f"register {name!r} is read-only")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"register {name!r} takes an integer, got {value!r}")
        low, high = (-(1 << 31), (1 << 31) - 1) if reg.signed else (0, (1 << 32) - 1)
        if not low <= value <= high:
            raise ValueError(f"value {value} does not fit register {name!r} ({low} .. {high})")
        self._port.write(reg.offset, value & 0xFFFFFFFF)

    def __getattr__(self, name: str) -> int:
        if name.startswith("_") or name not in _BY_NAME:
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name: str, value) -> None:
        self[name] = value

    def __dir__(self):
        return [*super().__dir__(), *_BY_NAME]

    def dump(self) -> dict:
        """Every register's value, by name."""
        return {r.name: self[r.name] for r in REGISTERS}

    def status(self) -> dict:
        """STATUS decoded: its flags, the queue level and the candidates in flight."""
        value = self["status"]
        out = {name: bool(value >> bit & 1) for name, bit in STATUS_BITS.items()}
        return out | {"queue_level": value >> 16 & 0xFF, "in_flight": value >> 24 & 0xFF}

    def counters(self) -> dict:
        return {name: self[name] for name in COUNTERS}
