"""hdl/trigger_regs.v: identification, enables, thresholds with byte strobes, counters, errors, reset."""

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp

ID, VERSION, CONTROL, STATUS = 0x00, 0x04, 0x08, 0x0C
NN_THR, ASUM_THR, SCRATCH, GATE_THR = 0x10, 0x14, 0x18, 0x1C
NN_COUNT, ASUM_COUNT, WINDOW_COUNT, DROP_COUNT = 0x20, 0x24, 0x28, 0x2C
STROBES = ("nn_decision", "asum_decision", "window_done", "decision_dropped")
COUNTERS = (NN_COUNT, ASUM_COUNT, WINDOW_COUNT, DROP_COUNT)


async def setup(dut):
    cocotb.start_soon(Clock(dut.clk, 4, unit="ns").start())
    for name in STROBES:
        getattr(dut, name).value = 0
    dut.event_start.value = 0
    dut.cand_dropped.value = 0
    dut.status_in.value = 0
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst_n, reset_active_level=False)
    await reset(dut)
    return master


async def reset(dut, cycles=3):
    dut.rst_n.value = 0
    await ClockCycles(dut.clk, cycles)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)


async def read(master, address):
    resp = await master.read(address, 4)
    assert resp.resp == AxiResp.OKAY, f"read 0x{address:02x}: {resp.resp}"
    return int.from_bytes(resp.data, "little")


async def write(master, address, value, strobe_bytes=None):
    data = value.to_bytes(4, "little")
    if strobe_bytes is None:
        resp = await master.write(address, data)
    else:  # a write of some bytes only: cocotbext-axi sets WSTRB from the address and length
        resp = await master.write(address + strobe_bytes[0], data[strobe_bytes[0] : strobe_bytes[1]])
    assert resp.resp == AxiResp.OKAY, f"write 0x{address:02x}: {resp.resp}"


@cocotb.test()
async def identification_and_reset_values(dut):
    master = await setup(dut)
    assert await read(master, ID) == 0x4C535454
    assert await read(master, VERSION) == 0x00010000
    assert await read(master, CONTROL) == 0
    assert int(dut.nn_enable.value) == 0 and int(dut.asum_enable.value) == 0
    # thresholds reset to values that never trigger
    assert await read(master, NN_THR) == 0x7FFFFFFF
    assert await read(master, ASUM_THR) == 0xFFFFFFFF
    assert await read(master, GATE_THR) == 0xFFFFFFFF
    for address in COUNTERS:
        assert await read(master, address) == 0


@cocotb.test()
async def thresholds_enables_and_byte_strobes(dut):
    master = await setup(dut)
    rng = random.Random(1)
    for _ in range(20):
        nn, asum, scratch = (rng.getrandbits(32) for _ in range(3))
        await write(master, NN_THR, nn)
        await write(master, ASUM_THR, asum)
        await write(master, SCRATCH, scratch)
        await write(master, GATE_THR, scratch ^ 0xFFFF)
        assert (await read(master, NN_THR), await read(master, ASUM_THR), await read(master, SCRATCH)) == (nn, asum, scratch)
        assert await read(master, GATE_THR) == scratch ^ 0xFFFF
        assert int(dut.gate_threshold.value) == scratch ^ 0xFFFF
        assert int(dut.nn_threshold.value) == nn and int(dut.asum_threshold.value) == asum
    await write(master, SCRATCH, 0x11223344)
    await write(master, SCRATCH, 0xAABBCCDD, strobe_bytes=(1, 3))  # bytes 1 and 2 only
    assert await read(master, SCRATCH) == 0x11BBCC44
    for value in (0b01, 0b10, 0b11, 0b00):
        await write(master, CONTROL, value)
        assert await read(master, CONTROL) == value
        assert (int(dut.nn_enable.value), int(dut.asum_enable.value)) == (value & 1, value >> 1)
    # read-only registers ignore writes
    await write(master, ID, 0)
    assert await read(master, ID) == 0x4C535454


@cocotb.test()
async def counters_count_strobes_and_clear(dut):
    master = await setup(dut)
    rng = random.Random(2)
    expected = dict.fromkeys(STROBES, 0)
    for _ in range(500):
        for name in STROBES:
            bit = rng.random() < 0.3
            getattr(dut, name).value = int(bit)
            expected[name] += bit
        await RisingEdge(dut.clk)
    for name in STROBES:
        getattr(dut, name).value = 0
    await RisingEdge(dut.clk)
    got = [await read(master, a) for a in COUNTERS]
    assert got == [expected[n] for n in STROBES], (got, expected)
    # the candidate-drop counter adds a count per clock, the event counter counts strobes
    lost = events = 0
    for _ in range(100):
        n, e = rng.randrange(600), rng.random() < 0.5
        dut.cand_dropped.value = n
        dut.event_start.value = int(e)
        lost, events = lost + n, events + e
        await RisingEdge(dut.clk)
    dut.cand_dropped.value = 0
    dut.event_start.value = 0
    await RisingEdge(dut.clk)
    assert await read(master, 0x30) == lost and await read(master, 0x34) == events
    # clearing (CONTROL bit 8) keeps the enables
    await write(master, CONTROL, 0b11)
    await write(master, CONTROL, 0x100 | 0b11)
    assert [await read(master, a) for a in (*COUNTERS, 0x30, 0x34)] == [0] * 6
    assert await read(master, CONTROL) == 0b11
    dut.status_in.value = 0xDEADBEEF
    await RisingEdge(dut.clk)
    assert await read(master, STATUS) == 0xDEADBEEF


@cocotb.test()
async def unmapped_addresses_answer_slverr(dut):
    master = await setup(dut)
    for address in (0x38, 0x3C, 0xFC):
        assert (await master.read(address, 4)).resp == AxiResp.SLVERR
        assert (await master.write(address, b"\x01\x02\x03\x04")).resp == AxiResp.SLVERR
    assert await read(master, ID) == 0x4C535454  # the bus still works


@cocotb.test()
async def reset_in_the_middle_restores_safe_state(dut):
    master = await setup(dut)
    await write(master, CONTROL, 0b11)
    await write(master, NN_THR, 5)
    dut.window_done.value = 1
    await ClockCycles(dut.clk, 10)
    dut.rst_n.value = 0  # while the core is still counting
    await ClockCycles(dut.clk, 2)
    dut.window_done.value = 0
    await reset(dut, cycles=1)
    assert int(dut.nn_enable.value) == 0 and int(dut.asum_enable.value) == 0
    assert int(dut.nn_threshold.value) == 0x7FFFFFFF
    assert await read(master, WINDOW_COUNT) == 0
