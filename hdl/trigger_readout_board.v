// Readout board of the partitioned trigger (docs/hardware.md, Partitioned
// trigger): the first level on its own sector of the camera, and the link to
// the central board.
//
//   s_axis (the board's modules: its own and its halo) -> trigger_first_level
//          (group sums of the groups it owns, gate, analog-sum comparators,
//          history, candidate picker, ROI gathering)
//      R  -> fire_*: the beat's analog-sum fires in the decision range, one
//            bit per sample (a fixed-latency side band of the link: the
//            central board ORs the boards' bits of the same beat)
//      G4 -> K: camera group number, ROI clipped to min(count, CLIP) at
//            ROI_BITS a count (the history already keeps ROI_BITS a count,
//            saturated: 5 instead of 8 bits at the trained clip of 31) -> K2, K3: CRC-8 of the payload -> frame FIFO
//         -> framer: FRAME_WORDS 64-bit words on m_link (AXI-Stream, tlast on
//            the last word of a frame), back-pressure from the link
//
// Candidate frame (bit i of the frame is bit i mod 64 of word i / 64; word 0
// first), the layout of trigger.hardware.links.candidate_bits:
//   [3:0]                      frame type, 2 = candidate
//   [4 +: GROUP_ID_BITS]       camera group number
//   [.. +: 32]                 time stamp: sample number since reset
//   [.. +: 3*WINDOW*ROI_BITS]  ROI, input i = slot*WINDOW + t at [i*ROI_BITS +: ROI_BITS]
//   zeros, then the top 8 bits CRC-8 (polynomial 0x07, initial 0) of the
//   payload bits 0 .. PAYLOAD_W-1, bit 0 first
//
// The network sees min(count, clip) (trigger.json's input.clip), so the ROI
// travels at ROI_BITS = ceil(log2(CLIP + 1)) bits a count, exact. A candidate
// is issued by the picker only when a place in the frame FIFO is reserved for
// it (a register counting the free places), so nothing is lost after the
// picker: link back-pressure holds candidates in the queue, where overflow is
// counted (cand_lost, overflow). Transceiver IP (Aurora 64B/66B, GTY) is not
// here: the link is a 64-bit word stream.
//
// Group tables come from the generated wrapper of each board
// (trigger_readout_boards.v, from the one partition); never typed by hand.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_readout_board #(
    parameter integer SPB = 4,
    parameter integer N_BEFORE = 10,
    parameter integer N_AFTER = 6,
    parameter integer HIST_DEPTH = 32,
    parameter integer HIST_BLOCK_BANKS = 1,
    parameter integer QUEUE_DEPTH = 16,
    parameter integer CLIP = 255,           // the network sees min(count, CLIP)
    parameter integer FRAME_DEPTH = 16,     // candidates waiting for the link (power of two)
    // the board's group table (trigger_groups.vh's format, local numbers), from trigger_readout_boards.v
    parameter integer N_MODULES = 36,
    parameter integer N_GROUPS = 41,
    parameter integer MODULE_BITS = 9,
    parameter integer N_COLOURS = 3,
    parameter integer CINDEX_BITS = 4,
    parameter integer COLOUR_SIZE_0 = 12,
    parameter integer COLOUR_SIZE_1 = 12,
    parameter integer COLOUR_SIZE_2 = 12,
    parameter integer N_PAIRS = 21,
    parameter integer PAIR_BITS = 5,
    parameter [N_GROUPS*3*MODULE_BITS-1:0] GROUP_TABLE = 0,
    parameter [COLOUR_SIZE_0*MODULE_BITS-1:0] COLOUR_MODULES_0 = 0,
    parameter [COLOUR_SIZE_1*MODULE_BITS-1:0] COLOUR_MODULES_1 = 0,
    parameter [COLOUR_SIZE_2*MODULE_BITS-1:0] COLOUR_MODULES_2 = 0,
    parameter [N_GROUPS*N_COLOURS*CINDEX_BITS-1:0] GROUP_CINDEX = 0,
    parameter [N_GROUPS*3*2-1:0] GROUP_SLOT_COLOUR = 0,
    parameter [N_PAIRS*2*MODULE_BITS-1:0] PAIR_TABLE = 0,
    parameter [N_GROUPS*PAIR_BITS-1:0] GROUP_PAIR = 0,
    parameter [N_GROUPS*MODULE_BITS-1:0] GROUP_THIRD = 0,
    parameter integer GROUP_ID_BITS = 9,
    parameter [N_GROUPS*GROUP_ID_BITS-1:0] GROUP_ID = 0  // camera group of each local group
) (
    input  wire                        clk,
    input  wire                        rst_n,

    input  wire [SPB*N_MODULES*8-1:0]  s_axis_tdata,
    input  wire [0:0]                  s_axis_tuser,
    input  wire                        s_axis_tlast,
    input  wire                        s_axis_tvalid,
    output wire                        s_axis_tready,

    input  wire                        nn_enable,
    input  wire                        asum_enable,
    input  wire [31:0]                 gate_threshold,
    input  wire [31:0]                 asum_threshold,

    output wire [63:0]                 m_link_tdata,
    output wire                        m_link_tlast,
    output wire                        m_link_tvalid,
    input  wire                        m_link_tready,

    output reg                         fire_valid,   // a beat was decided on ...
    output reg  [SPB-1:0]              fire_mask,    // ... its samples where the board's analog sum fired
    output reg  [31:0]                 fire_time,    // ... the time stamp of its sample 0

    output wire [15:0]                 cand_lost,    // candidates lost this clock (queue full, too old)
    output wire                        overflow,
    output wire                        busy
);
    localparam integer BITS = 8;
    localparam integer WINDOW = N_BEFORE + N_AFTER;
    localparam integer NN_INPUTS = 3 * WINDOW;
    localparam integer GW = $clog2(N_GROUPS);
    localparam integer CNT_W = $clog2(SPB * N_GROUPS + 1);
    localparam integer ROI_BITS = (CLIP >= 255) ? BITS : $clog2(CLIP + 1);
    localparam integer NN_IN_W = NN_INPUTS * ROI_BITS;  // the history keeps ROI_BITS a count (saturated)
    localparam [ROI_BITS-1:0] CLIP_COUNT = (CLIP >= 255) ? {ROI_BITS{1'b1}} : CLIP[ROI_BITS-1:0];
    localparam [3:0]   FRAME_CANDIDATE = 4'd2;
    localparam integer OFF_GROUP = 4;
    localparam integer OFF_TIME = OFF_GROUP + GROUP_ID_BITS;
    localparam integer OFF_ROI = OFF_TIME + 32;
    localparam integer PAYLOAD_W = OFF_ROI + NN_INPUTS * ROI_BITS;
    localparam integer FRAME_WORDS = (PAYLOAD_W + 8 + 63) / 64;
    localparam integer FRAME_W = FRAME_WORDS * 64;
    localparam integer WIW = $clog2(FRAME_WORDS);
    localparam integer FCW = $clog2(FRAME_DEPTH) + 1;

    // ------------------------------------------------------------ first level
    wire               r_valid, r_asum_push;
    wire [SPB-1:0]     r_asum_mask;
    wire [15:0]        r_window, r_sample;
    wire [31:0]        r_beat;
    wire               c_issue, c_drop, q_overflow, fl_busy, event_strobe;
    wire [CNT_W-1:0]   q_lost;
    wire [$clog2(QUEUE_DEPTH):0] q_count;
    wire               g4_valid;
    wire [NN_IN_W-1:0] g4_roi;
    wire [GW-1:0]      g4_group;
    wire [15:0]        g4_window, g4_sample;
    wire [31:0]        g4_time;
    reg  [FCW-1:0]     free;           // places in the frame FIFO not reserved by an issued candidate
    wire               credit = free != {FCW{1'b0}};

    trigger_first_level #(
        .SPB(SPB), .N_BEFORE(N_BEFORE), .N_AFTER(N_AFTER), .HIST_DEPTH(HIST_DEPTH),
        .HIST_BLOCK_BANKS(HIST_BLOCK_BANKS), .QUEUE_DEPTH(QUEUE_DEPTH), .BITS(BITS),
        .HIST_BITS(ROI_BITS), .N_MODULES(N_MODULES), .N_GROUPS(N_GROUPS), .MODULE_BITS(MODULE_BITS), .N_COLOURS(N_COLOURS),
        .CINDEX_BITS(CINDEX_BITS), .COLOUR_SIZE_0(COLOUR_SIZE_0), .COLOUR_SIZE_1(COLOUR_SIZE_1),
        .COLOUR_SIZE_2(COLOUR_SIZE_2), .N_PAIRS(N_PAIRS), .PAIR_BITS(PAIR_BITS), .GROUP_TABLE(GROUP_TABLE),
        .COLOUR_MODULES_0(COLOUR_MODULES_0), .COLOUR_MODULES_1(COLOUR_MODULES_1),
        .COLOUR_MODULES_2(COLOUR_MODULES_2), .GROUP_CINDEX(GROUP_CINDEX), .GROUP_SLOT_COLOUR(GROUP_SLOT_COLOUR),
        .PAIR_TABLE(PAIR_TABLE), .GROUP_PAIR(GROUP_PAIR), .GROUP_THIRD(GROUP_THIRD)
    ) first (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tuser(s_axis_tuser), .s_axis_tlast(s_axis_tlast),
        .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .nn_enable(nn_enable), .asum_enable(asum_enable), .gate_threshold(gate_threshold),
        .asum_threshold(asum_threshold), .credit(credit), .event_strobe(event_strobe),
        .r_valid(r_valid), .r_asum_push(r_asum_push), .r_asum_mask(r_asum_mask), .r_window(r_window),
        .r_sample(r_sample), .r_beat(r_beat), .c_issue(c_issue), .c_drop(c_drop), .q_overflow(q_overflow),
        .q_lost(q_lost), .q_count(q_count), .g4_valid(g4_valid), .g4_roi(g4_roi), .g4_group(g4_group),
        .g4_window(g4_window), .g4_sample(g4_sample), .g4_time(g4_time), .busy(fl_busy));

    assign cand_lost = {{(16 - CNT_W){1'b0}}, q_lost} + {15'd0, c_drop};
    assign overflow = q_overflow;

    // ------------------------------------------------ analog-sum fire bits (side band)
    always @(posedge clk) begin
        if (!rst_n) fire_valid <= 1'b0;
        else        fire_valid <= r_valid;
        fire_mask <= r_asum_push ? r_asum_mask : {SPB{1'b0}};
        fire_time <= {r_beat[29:0], 2'b00};
    end

    // ------------------------------------- K: camera group, ROI clipped to what the network sees
    reg                         k_valid;
    reg  [PAYLOAD_W-1:0]        k_payload;
    wire [NN_INPUTS*ROI_BITS-1:0] roi_clipped;
    genvar gi;
    // min(min(count, 2**ROI_BITS - 1), CLIP) = min(count, CLIP): the history's saturation is exact, and
    // all that is left to do when CLIP is 2**ROI_BITS - 1 (the trained 31, or no clip)
    generate
        if (CLIP >= 255 || CLIP + 1 == (1 << ROI_BITS)) begin : saturated
            assign roi_clipped = g4_roi;
        end else begin : clipped
            for (gi = 0; gi < NN_INPUTS; gi = gi + 1) begin : clip
                wire [ROI_BITS-1:0] c = g4_roi[gi * ROI_BITS +: ROI_BITS];
                assign roi_clipped[gi * ROI_BITS +: ROI_BITS] = (c > CLIP_COUNT) ? CLIP_COUNT : c;
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (!rst_n) k_valid <= 1'b0;
        else        k_valid <= g4_valid;
        k_payload <= {roi_clipped, g4_time, GROUP_ID[g4_group * GROUP_ID_BITS +: GROUP_ID_BITS], FRAME_CANDIDATE};
    end

    // ------------------------------------- K2, K3: CRC-8 of the payload in two register stages
    // K2: each CRC bit's XOR over CRC_PARTS slices of the payload (about 72 bits each: 3 LUT levels);
    // K3: the slices' results XORed (one LUT level) beside the payload. The CRC alone in one stage was
    // 5 LUT levels in yosys.
`include "trigger_crc8.vh"
    localparam integer CRC_PARTS = 4;
    localparam integer CRC_SLICE = (PAYLOAD_W + CRC_PARTS - 1) / CRC_PARTS;
    reg                      k2_valid;
    reg [PAYLOAD_W-1:0]      k2_payload;
    reg [8*CRC_PARTS-1:0]    k2_part;      // CRC bit c, slice p at [c*CRC_PARTS + p]
    genvar gc, gp;
    generate
        for (gc = 0; gc < 8; gc = gc + 1) begin : crc_bit
            for (gp = 0; gp < CRC_PARTS; gp = gp + 1) begin : slice
                localparam integer LO = gp * CRC_SLICE;
                localparam integer N = (LO + CRC_SLICE <= PAYLOAD_W) ? CRC_SLICE : PAYLOAD_W - LO;
                always @(posedge clk)
                    k2_part[gc * CRC_PARTS + gp] <= ^(k_payload[LO +: N] & CRC8_MASKS[gc * PAYLOAD_W + LO +: N]);
            end
        end
    endgenerate
    reg                 k3_valid;
    reg [FRAME_W-1:0]   k3_frame;
    reg [7:0]           k3_crc;
    integer ci;
    always @(*)
        for (ci = 0; ci < 8; ci = ci + 1)
            k3_crc[ci] = ^k2_part[ci * CRC_PARTS +: CRC_PARTS];
    always @(posedge clk) begin
        if (!rst_n) begin
            k2_valid <= 1'b0;
            k3_valid <= 1'b0;
        end else begin
            k2_valid <= k_valid;
            k3_valid <= k2_valid;
        end
        k2_payload <= k_payload;
        k3_frame   <= {k3_crc, {(FRAME_W - 8 - PAYLOAD_W){1'b0}}, k2_payload};
    end

    // ----------------------------------------------------- frame FIFO and framer
    wire               f_empty, f_full;
    wire [FRAME_W-1:0] f_head;
    wire [FCW-1:0]     f_count;
    reg  [WIW-1:0]     word_idx;
    wire               word_last = word_idx == FRAME_WORDS[WIW-1:0] - 1'b1;
    wire               f_pop = !f_empty && m_link_tready && word_last;
    trigger_fifo #(.WIDTH(FRAME_W), .DEPTH(FRAME_DEPTH)) frames (
        .clk(clk), .rst_n(rst_n), .push(k3_valid), .wr_data(k3_frame), .pop(f_pop),
        .rd_data(f_head), .empty(f_empty), .full(f_full), .count(f_count));

    always @(posedge clk) begin
        if (!rst_n) begin
            word_idx <= {WIW{1'b0}};
            free     <= FRAME_DEPTH[FCW-1:0];
        end else begin
            if (!f_empty && m_link_tready)
                word_idx <= word_last ? {WIW{1'b0}} : word_idx + 1'b1;
            free <= free - {{(FCW - 1){1'b0}}, c_issue} + {{(FCW - 1){1'b0}}, f_pop};
        end
    end
    assign m_link_tdata  = f_head[word_idx * 64 +: 64];
    assign m_link_tlast  = word_last;
    assign m_link_tvalid = !f_empty;

    assign busy = fl_busy || free != FRAME_DEPTH[FCW-1:0] || k_valid || k2_valid || k3_valid || fire_valid;

    // f_full cannot be reached (places are reserved); window and sample numbers stay on the board (the
    // central board works in time stamps)
    wire unused_ok = &{1'b0, f_full, f_count, r_window, r_sample, r_beat[31:30], g4_window, g4_sample,
                       event_strobe, q_count};
endmodule

`default_nettype wire
