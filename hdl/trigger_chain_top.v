// The partitioned trigger in one simulation (docs/hardware.md, Partitioned
// trigger): the camera stream split over the readout boards
// (trigger_readout_boards: each board gets its own and its halo modules), one
// link per board to the central board (trigger_central_board), the central
// board's records out. For simulation and bit-exact checks against the single
// top's golden model (testbench/trigger_chain); on hardware the boards are
// separate devices and the links transceivers.
//
// The links are 64-bit word streams (AXI-Stream tvalid/tready) paced at the
// payload rate of one 10.3125 Gb/s 64B/66B lane: LINK_SLOTS words every
// LINK_PERIOD clocks of 250 MHz (5 of 8: 10.3125 * 64/66 / 64 bit = 156.25
// Mword/s = 0.625 a clock; the Makefile sets both from
// trigger.hardware.links.link_pacing). A frame's words at this pace are its
// serialisation in the latency budget; transceiver and fibre latency are not
// modelled (they are named there as assumptions). The fire bits go straight
// from the boards to the central board, all boards deciding a beat on the
// same clock (a fixed-latency side band of the links).
//
// Registers are ports here (no AXI4-Lite): the thresholds in the units of
// trigger_top's registers (trigger.hardware.spec.TriggerSpec.registers).

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_chain_top #(
    parameter integer SPB = 4,
    parameter integer N_BEFORE = 10,
    parameter integer N_AFTER = 6,
    parameter integer HIST_DEPTH = 32,
    parameter integer HIST_BLOCK_BANKS = 1,
    parameter integer QUEUE_DEPTH = 16,
    parameter integer CLIP = 255,           // trigger.json input.clip (255: none)
    parameter integer FRAME_DEPTH = 16,
    parameter integer RX_DEPTH = 16,
    parameter integer OUT_DEPTH = 32,
    parameter integer NN_LATENCY = 4,
    parameter integer NN_OUT_W = 23,
    parameter integer NN_OUT_SIGNED = 1,
    parameter integer LINK_SLOTS = 5,
    parameter integer LINK_PERIOD = 8,
    // the port width: the camera's module count, set by the build (TopSpec.verilog_parameters) and checked
    // against the generated trigger_partition.vh (the default elaborates nothing)
    parameter integer N_CAMERA_MODULES = 0
) (
    input  wire                               clk,
    input  wire                               rst_n,

    input  wire [SPB*N_CAMERA_MODULES*8-1:0]  s_axis_tdata,
    input  wire [0:0]                         s_axis_tuser,
    input  wire                               s_axis_tlast,
    input  wire                               s_axis_tvalid,
    output wire                               s_axis_tready,

    output wire [127:0]                       m_axis_tdata,
    output wire                               m_axis_tlast,
    output wire                               m_axis_tvalid,
    input  wire                               m_axis_tready,

    input  wire                               nn_enable,
    input  wire                               asum_enable,
    input  wire [31:0]                        nn_threshold,
    input  wire [31:0]                        asum_threshold,
    input  wire [31:0]                        gate_threshold,
    // bit b: link b's lane loses this clock's slot (lane alignment, clock-compensation idles): its word
    // waits for the next slot, as a transceiver's user interface holds tready low (links beyond 64: none)
    input  wire [63:0]                        link_stall,

    output wire [15:0]                        crc_errors,
    output wire [15:0]                        asum_lost,
    output wire                               misaligned,
    output reg  [31:0]                        cand_lost      // candidates lost on the readout boards
);

`include "trigger_partition.vh"

    generate
        if (N_CAMERA_MODULES != CAMERA_MODULES) begin : camera_check
            trigger_chain_top_camera_modules_do_not_match_the_partition unsupported_parameters ();
        end
        if (N_BOARDS > 64) begin : stall_width_check
            trigger_chain_top_link_stall_has_64_bits unsupported_parameters ();
        end
    endgenerate

    wire [N_BOARDS*64-1:0]  link_tdata;
    wire [N_BOARDS-1:0]     link_tlast, link_tvalid, link_tready, rx_ready;
    wire [N_BOARDS-1:0]     fire_valid, board_overflow, board_busy;
    wire [N_BOARDS*SPB-1:0] fire_mask;
    wire [N_BOARDS*32-1:0]  fire_time;
    wire [N_BOARDS*16-1:0]  board_lost;

    trigger_readout_boards #(
        .SPB(SPB), .N_BEFORE(N_BEFORE), .N_AFTER(N_AFTER), .HIST_DEPTH(HIST_DEPTH),
        .HIST_BLOCK_BANKS(HIST_BLOCK_BANKS), .QUEUE_DEPTH(QUEUE_DEPTH), .CLIP(CLIP), .FRAME_DEPTH(FRAME_DEPTH),
        .N_CAMERA_MODULES(N_CAMERA_MODULES)
    ) boards (
        .clk(clk), .rst_n(rst_n),
        .s_axis_tdata(s_axis_tdata), .s_axis_tuser(s_axis_tuser), .s_axis_tlast(s_axis_tlast),
        .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .nn_enable(nn_enable), .asum_enable(asum_enable), .gate_threshold(gate_threshold),
        .asum_threshold(asum_threshold),
        .m_link_tdata(link_tdata), .m_link_tlast(link_tlast), .m_link_tvalid(link_tvalid),
        .m_link_tready(link_tready), .fire_valid(fire_valid), .fire_mask(fire_mask), .fire_time(fire_time),
        .cand_lost(board_lost), .overflow(board_overflow), .busy(board_busy));

    // the links: a word moves in LINK_SLOTS of every LINK_PERIOD clocks
    reg [7:0] link_phase;
    always @(posedge clk) begin
        if (!rst_n)                                  link_phase <= 8'd0;
        else if (link_phase == LINK_PERIOD[7:0] - 1) link_phase <= 8'd0;
        else                                         link_phase <= link_phase + 8'd1;
    end
    wire slot = link_phase < LINK_SLOTS[7:0];
    wire [N_BOARDS-1:0] link_open = {N_BOARDS{slot}} & ~link_stall[N_BOARDS-1:0];
    assign link_tready = rx_ready & link_open;
    wire [N_BOARDS-1:0] rx_valid = link_tvalid & link_open;

    wire central_busy;
    trigger_central_board #(
        .N_BOARDS(N_BOARDS), .SPB(SPB), .N_BEFORE(N_BEFORE), .N_AFTER(N_AFTER), .CLIP(CLIP),
        .GROUP_ID_BITS(GROUP_ID_BITS), .RX_DEPTH(RX_DEPTH), .OUT_DEPTH(OUT_DEPTH), .NN_LATENCY(NN_LATENCY),
        .NN_OUT_W(NN_OUT_W), .NN_OUT_SIGNED(NN_OUT_SIGNED)
    ) central (
        .clk(clk), .rst_n(rst_n),
        .s_link_tdata(link_tdata), .s_link_tlast(link_tlast), .s_link_tvalid(rx_valid), .s_link_tready(rx_ready),
        .fire_valid(fire_valid), .fire_mask(fire_mask), .fire_time(fire_time),
        .nn_enable(nn_enable), .asum_enable(asum_enable), .nn_threshold(nn_threshold),
        .m_axis_tdata(m_axis_tdata), .m_axis_tlast(m_axis_tlast), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready), .crc_errors(crc_errors), .asum_lost(asum_lost), .misaligned(misaligned),
        .busy(central_busy));

    // candidates lost on the boards (queue full, too old), summed
    reg [31:0] lost_now;
    integer b;
    always @(*) begin
        lost_now = 32'd0;
        for (b = 0; b < N_BOARDS; b = b + 1)
            lost_now = lost_now + {16'd0, board_lost[b * 16 +: 16]};
    end
    always @(posedge clk) begin
        if (!rst_n) cand_lost <= 32'd0;
        else        cand_lost <= cand_lost + lost_now;
    end

    // the testbench's drain waits for this
    wire busy = |board_busy || central_busy;
    // a word on link b this clock (the testbench's link monitor)
    wire [N_BOARDS-1:0] link_xfer = link_tvalid & link_tready;

    wire unused_ok = &{1'b0, link_stall, busy, link_xfer, board_overflow, BOARD_MAX_MODULES[0], BOARD_MAX_GROUPS[0]};
endmodule

`default_nettype wire
