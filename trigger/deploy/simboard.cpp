// The simulated board: the Verilated board wrapper (hdl/trigger_board_top.v)
// behind a tiny C API that mimics what the processor sees on a Zynq board:
// an AXI-Lite register port and the two channels of an AXI DMA in simple mode
// (MM2S: memory to the trigger's input, S2MM: its records to memory).
// trigger/deploy/simboard.py compiles it into a shared library and drives it
// with ctypes. One clock is the unit of time; streams keep flowing while a
// register access waits, as they do on the board.
//
// Built with -DSB_WORD32=<DMA_W/32> (32-bit chunks per DMA word).

#include <cstdint>
#include <cstddef>
#include "Vtrigger_board_top.h"
#include "verilated.h"

namespace {

struct Board {
    VerilatedContext ctx;
    Vtrigger_board_top* top = nullptr;
    uint64_t cycles = 0;
    // MM2S: words of SB_WORD32 uint32 each, tlast on the last one
    const uint32_t* in = nullptr;
    size_t in_words = 0, in_pos = 0;
    // optional: idle clocks after each word (a DMA that pauses), so a bulk check can pace the input
    const uint32_t* gaps = nullptr;
    uint32_t gap_left = 0;
    // S2MM: 128-bit records (4 uint32), done at tlast or when the buffer is full
    uint32_t* out = nullptr;
    size_t out_cap = 0, out_pos = 0;
    bool out_busy = false;
    // AXI-Lite transaction in progress
    bool aw_pending = false, w_pending = false, b_wait = false, b_done = false;
    bool ar_pending = false, r_wait = false, r_done = false;
    uint32_t rdata = 0;
    int resp = 0;
};

inline void set_word(IData& port, const uint32_t* w) { port = w[0]; }
inline void set_word(QData& port, const uint32_t* w) { port = uint64_t(w[0]) | (uint64_t(w[1]) << 32); }
template <std::size_t N>
inline void set_word(VlWide<N>& port, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}

void drive_input(Board* b) {
    auto* t = b->top;
    bool have = b->in && b->in_pos < b->in_words && b->gap_left == 0;
    t->s_axis_tvalid = have;
    if (have) {
        set_word(t->s_axis_tdata, b->in + b->in_pos * SB_WORD32);
        t->s_axis_tlast = b->in_pos + 1 == b->in_words;
    }
    t->m_axis_tready = b->out_busy;
}

// One clock: outputs settle, transfers are decided on the values before the
// rising edge, the edge happens, then the next inputs are set.
void cycle(Board* b) {
    auto* t = b->top;
    t->aclk = 0;
    t->eval();
    bool in_fire = t->s_axis_tvalid && t->s_axis_tready;
    bool out_fire = t->m_axis_tvalid && t->m_axis_tready;
    bool out_stall = t->m_axis_tvalid && !t->m_axis_tready;
    bool aw_fire = t->s_axil_awvalid && t->s_axil_awready;
    bool w_fire = t->s_axil_wvalid && t->s_axil_wready;
    bool bv_fire = t->s_axil_bvalid && t->s_axil_bready;
    bool ar_fire = t->s_axil_arvalid && t->s_axil_arready;
    bool rv_fire = t->s_axil_rvalid && t->s_axil_rready;
    uint32_t rec[4];
    bool rec_last = t->m_axis_tlast;
    for (int i = 0; i < 4; ++i) rec[i] = t->m_axis_tdata[i];
    int bresp = t->s_axil_bresp, rresp = t->s_axil_rresp;
    uint32_t rdata = t->s_axil_rdata;
    t->aclk = 1;
    t->eval();
    ++b->cycles;
    b->ctx.timeInc(1);

    // a pause counts only clocks in which the trigger can work: while its records cannot leave (a receive
    // buffer not yet re-armed) it is frozen, and a pause spent then would leave its backlog where it was
    if (b->gap_left && !out_stall) --b->gap_left;
    if (in_fire) {
        if (b->gaps) b->gap_left = b->gaps[b->in_pos];
        ++b->in_pos;
    }
    if (out_fire) {
        for (int i = 0; i < 4; ++i) b->out[b->out_pos * 4 + i] = rec[i];
        ++b->out_pos;
        if (rec_last || b->out_pos == b->out_cap) b->out_busy = false;
    }
    if (aw_fire) { b->aw_pending = false; t->s_axil_awvalid = 0; }
    if (w_fire) { b->w_pending = false; t->s_axil_wvalid = 0; }
    if (bv_fire) { b->b_wait = false; b->b_done = true; b->resp = bresp; t->s_axil_bready = 0; }
    if (ar_fire) { b->ar_pending = false; t->s_axil_arvalid = 0; }
    if (rv_fire) { b->r_wait = false; b->r_done = true; b->resp = rresp; b->rdata = rdata; t->s_axil_rready = 0; }
    drive_input(b);
}

}  // namespace

extern "C" {

void* sb_open() {
    auto* b = new Board();
    b->top = new Vtrigger_board_top(&b->ctx);
    auto* t = b->top;
    t->aclk = 0;
    t->aresetn = 0;
    t->s_axis_tvalid = 0;
    t->s_axis_tlast = 0;
    t->m_axis_tready = 0;
    t->s_axil_awvalid = 0;
    t->s_axil_wvalid = 0;
    t->s_axil_bready = 0;
    t->s_axil_arvalid = 0;
    t->s_axil_rready = 0;
    t->eval();
    return b;
}

void sb_close(void* h) {
    auto* b = static_cast<Board*>(h);
    b->top->final();
    delete b->top;
    delete b;
}

int sb_word32() { return SB_WORD32; }

uint64_t sb_cycles(void* h) { return static_cast<Board*>(h)->cycles; }

// Reset (aresetn low for n clocks) drops the DMA transfers in flight, as the
// PL reset of a board does.
void sb_reset(void* h, int n) {
    auto* b = static_cast<Board*>(h);
    b->in = nullptr;
    b->in_words = b->in_pos = 0;
    b->gaps = nullptr;
    b->gap_left = 0;
    b->out_busy = false;
    b->top->aresetn = 0;
    drive_input(b);
    for (int i = 0; i < n; ++i) cycle(b);
    b->top->aresetn = 1;
    cycle(b);
}

// gaps: null, or n_words counts of idle clocks to insert after each word
void sb_mm2s_start(void* h, const uint32_t* words, size_t n_words, const uint32_t* gaps) {
    auto* b = static_cast<Board*>(h);
    b->in = words;
    b->in_words = n_words;
    b->in_pos = 0;
    b->gaps = gaps;
    b->gap_left = 0;
    drive_input(b);
}

void sb_s2mm_start(void* h, uint32_t* buf, size_t cap_records) {
    auto* b = static_cast<Board*>(h);
    b->out = buf;
    b->out_cap = cap_records;
    b->out_pos = 0;
    b->out_busy = cap_records > 0;
    drive_input(b);
}

int sb_mm2s_idle(void* h) {
    auto* b = static_cast<Board*>(h);
    return b->in_pos >= b->in_words;
}

int sb_s2mm_idle(void* h) { return !static_cast<Board*>(h)->out_busy; }

size_t sb_s2mm_received(void* h) { return static_cast<Board*>(h)->out_pos; }

// Run up to max_cycles clocks; stop early when `until` is 1 (MM2S idle) or 2
// (S2MM idle). Returns the clocks run.
uint64_t sb_run(void* h, uint64_t max_cycles, int until) {
    auto* b = static_cast<Board*>(h);
    uint64_t n = 0;
    while (n < max_cycles) {
        if (until == 1 && sb_mm2s_idle(h)) break;
        if (until == 2 && sb_s2mm_idle(h)) break;
        cycle(b);
        ++n;
    }
    return n;
}

// AXI-Lite write; returns BRESP, or -1 when no response came within max_cycles.
int sb_axil_write(void* h, uint32_t addr, uint32_t data, uint32_t strb, int max_cycles) {
    auto* b = static_cast<Board*>(h);
    auto* t = b->top;
    t->s_axil_awaddr = addr;
    t->s_axil_awvalid = 1;
    t->s_axil_wdata = data;
    t->s_axil_wstrb = strb;
    t->s_axil_wvalid = 1;
    t->s_axil_bready = 1;
    b->aw_pending = b->w_pending = b->b_wait = true;
    b->b_done = false;
    for (int i = 0; i < max_cycles && !b->b_done; ++i) cycle(b);
    if (!b->b_done) {
        t->s_axil_awvalid = t->s_axil_wvalid = t->s_axil_bready = 0;
        return -1;
    }
    return b->resp;
}

// AXI-Lite read; returns RRESP (data in *data), or -1 on a timeout.
int sb_axil_read(void* h, uint32_t addr, uint32_t* data, int max_cycles) {
    auto* b = static_cast<Board*>(h);
    auto* t = b->top;
    t->s_axil_araddr = addr;
    t->s_axil_arvalid = 1;
    t->s_axil_rready = 1;
    b->ar_pending = b->r_wait = true;
    b->r_done = false;
    for (int i = 0; i < max_cycles && !b->r_done; ++i) cycle(b);
    if (!b->r_done) {
        t->s_axil_arvalid = t->s_axil_rready = 0;
        return -1;
    }
    *data = b->rdata;
    return b->resp;
}

}  // extern "C"
