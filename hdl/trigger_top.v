// Streaming trigger top of one LST camera: the analog-sum baseline and the
// second-level network side by side, on the digital trigger input.
//
// Input (AXI-Stream s_axis): one beat = SPB consecutive samples of all N_MODULES
// module sums, 8-bit counts (trigger/inputs.py). Sample j of module m is
// s_axis_tdata[(j*N_MODULES + m)*8 +: 8]. tuser[0] marks the first beat of an
// event window, tlast its last beat; beats outside a window (before the first
// tuser after reset, or after a tlast) are stored but never decided on.
// Windows are whole beats (the LST readout: 40 samples = 10 beats). A
// continuous camera stream is one endless window.
//
// Decisions are taken only for samples k of a window whose region of interest
// [k - N_BEFORE, k + N_AFTER) lies inside the window: the decision range of
// trigger/nn/roi.py (samples N_BEFORE .. n - N_AFTER), for both triggers.
//
//   analog sum   per sample: any of the 474 group sums > ASUM_THRESHOLD
//   gate         per group and sample: group sum > GATE_THRESHOLD while it was
//                not at the sample before (a rising edge): a candidate
//   network      per candidate: the ROI (the group's three modules, samples
//                k-10 .. k+5, module-major) through the core trigger_nn, whose
//                output integer (score * 2^f) is compared: pass = score > NN_THRESHOLD
//
// Data path (one beat per clock, the core takes one candidate per clock); S0 to
// G4 are trigger_first_level (shared with the readout boards of the
// partitioned trigger), the core, threshold and NN FIFO trigger_score and the
// output trigger_record_mux (both shared with the central board):
//
//   s_axis -> S0 register -> history banks (last SPAN*HIST_DEPTH beats)
//          -> S1 pair sums, group sums, both comparators (per sample)
//          -> H  hold one beat until the next tells where the window ends
//          -> analog-sum record (beats with a fire)       -> asum FIFO --+
//          -> candidate mask of the beat (rising edges in the decision    |
//             range) -> trigger_cand_picker: queue, pipelined picker      |
//             (lowest sample, then lowest group first, one a clock)       |
//             -> G1 bank addresses -> G2 bank read -> G3 module select    |
//             -> G4 ROI -> trigger_nn (NN_LATENCY) -> threshold -> NN FIFO+-> m_axis
//
// Output (AXI-Stream m_axis, 128-bit records, tlast on every record):
//   [3:0]    kind: 1 analog-sum record, 2 network record
//   [7:4]    analog sum: fired samples of the beat (bit j = sample base+j);
//            network: bit 4 = pass
//   [23:8]   network: group
//   [63:32]  network: score, output integer sign/zero-extended to 32 bits
//   [79:64]  sample number in the window (analog sum: of the beat's sample 0),
//            modulo 2^16: a window longer than 65,536 samples (a continuous
//            stream) wraps it; the time stamp below tells the full position
//   [95:80]  window number since reset (the first window is 0)
//   [127:96] time stamp: sample number since reset
//
// Nothing is lost silently. The input cannot be stalled (a camera does not
// wait), so:
// - a candidate that cannot enter the queue (full) or whose ROI has left the
//   history before the core could take it is dropped and counted
//   (CAND_DROP_COUNT, STATUS bits 0/1);
// - network results never meet a full FIFO: a candidate enters the core only
//   when a place in the NN FIFO is reserved for its result, so back-pressure
//   holds candidates in the queue (where overflow is counted, above);
// - an analog-sum record that finds its FIFO full (back-pressure) is dropped
//   and counted (DROP_COUNT, STATUS bit 2).
// Reset clears every valid bit, queue and FIFO; after reset nothing is
// decided before a new window starts (tuser) and the registers are set.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_top #(
    parameter integer SPB = 4,              // samples per beat
    parameter integer N_BEFORE = 10,        // ROI samples before the candidate sample
    parameter integer N_AFTER = 6,          // ROI samples from the candidate sample on
    parameter integer HIST_DEPTH = 32,      // beats per history bank (power of two)
    parameter integer HIST_BLOCK_BANKS = 1, // history banks in block RAM (the others in LUT-RAM)
    parameter integer QUEUE_DEPTH = 16,     // beats with candidates waiting (power of two)
    parameter integer OUT_DEPTH = 32,       // records per output FIFO (power of two)
    parameter integer NN_LATENCY = 4,       // register stages of trigger_nn (report.json latency_cycles)
    parameter integer NN_OUT_W = 23,        // width of trigger_nn's model_out
    parameter integer NN_OUT_SIGNED = 1,    // output_kif[0] of report.json
    parameter [31:0]  VERSION = 32'h0001_0000,
    // the port width: the camera's module count, set by the build (TopSpec.verilog_parameters) and checked
    // against the generated trigger_groups.vh (the default elaborates nothing)
    parameter integer N_CAMERA_MODULES = 0
) (
    input  wire         clk,
    input  wire         rst_n,

    input  wire [SPB*N_CAMERA_MODULES*8-1:0] s_axis_tdata,
    input  wire [0:0]   s_axis_tuser,
    input  wire         s_axis_tlast,
    input  wire         s_axis_tvalid,
    output wire         s_axis_tready,

    output wire [127:0] m_axis_tdata,
    output wire         m_axis_tlast,
    output wire         m_axis_tvalid,
    input  wire         m_axis_tready,

    input  wire [7:0]   s_axil_awaddr,
    input  wire         s_axil_awvalid,
    output wire         s_axil_awready,
    input  wire [31:0]  s_axil_wdata,
    input  wire [3:0]   s_axil_wstrb,
    input  wire         s_axil_wvalid,
    output wire         s_axil_wready,
    output wire [1:0]   s_axil_bresp,
    output wire         s_axil_bvalid,
    input  wire         s_axil_bready,
    input  wire [7:0]   s_axil_araddr,
    input  wire         s_axil_arvalid,
    output wire         s_axil_arready,
    output wire [31:0]  s_axil_rdata,
    output wire [1:0]   s_axil_rresp,
    output wire         s_axil_rvalid,
    input  wire         s_axil_rready
);


`include "trigger_groups.vh"

    generate
        if (N_CAMERA_MODULES != N_MODULES) begin : camera_check
            trigger_top_camera_modules_do_not_match_the_group_table unsupported_parameters ();
        end
    endgenerate

    localparam integer BITS = 8;
    localparam integer WINDOW = N_BEFORE + N_AFTER;
    localparam integer NN_IN_W = 3 * WINDOW * BITS;
    localparam integer GW = $clog2(N_GROUPS);


    // ------------------------------------------------------------------ registers
    wire        nn_enable, asum_enable;
    wire [31:0] nn_threshold, asum_threshold, gate_threshold;
    wire        nn_pass_strobe, asum_strobe, window_strobe, asum_lost_strobe, event_strobe;
    wire [15:0] cand_lost_inc;
    wire [31:0] status;

    trigger_regs #(.VERSION(VERSION)) regs (
        .clk(clk), .rst_n(rst_n),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),
        .s_axil_bready(s_axil_bready), .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready), .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp),
        .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready),
        .nn_enable(nn_enable), .asum_enable(asum_enable),
        .nn_threshold(nn_threshold), .asum_threshold(asum_threshold), .gate_threshold(gate_threshold),
        .nn_decision(nn_pass_strobe), .asum_decision(asum_strobe), .window_done(window_strobe),
        .decision_dropped(asum_lost_strobe), .event_start(event_strobe), .cand_dropped(cand_lost_inc),
        .status_in(status)
    );

    // ------------------------------------------ first level: S0 .. R, picker, G1 .. G4 (trigger_first_level)
    wire             r_valid, r_asum_push;  // r_valid: a beat decided on (the readout boards' fire bits)
    wire [SPB-1:0]   r_asum_mask;
    wire [15:0]      r_window, r_sample;
    wire [31:0]      r_beat;
    localparam integer CNT_W = $clog2(SPB * N_GROUPS + 1);
    wire             q_overflow, c_issue, c_drop, credit, fl_busy;
    wire [CNT_W-1:0] q_lost;
    wire [$clog2(QUEUE_DEPTH):0] q_count;
    wire               g4_valid;
    wire [NN_IN_W-1:0] g4_roi;
    wire [GW-1:0]      g4_group;
    wire [15:0]        g4_window, g4_sample;
    wire [31:0]        g4_time;
    trigger_first_level #(
        .SPB(SPB), .N_BEFORE(N_BEFORE), .N_AFTER(N_AFTER), .HIST_DEPTH(HIST_DEPTH),
        .HIST_BLOCK_BANKS(HIST_BLOCK_BANKS), .QUEUE_DEPTH(QUEUE_DEPTH), .BITS(BITS),
        .N_MODULES(N_MODULES), .N_GROUPS(N_GROUPS), .MODULE_BITS(MODULE_BITS), .N_COLOURS(N_COLOURS),
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
        .r_valid(r_valid), .r_asum_push(r_asum_push), .r_asum_mask(r_asum_mask), .r_window(r_window), .r_sample(r_sample),
        .r_beat(r_beat), .c_issue(c_issue), .c_drop(c_drop), .q_overflow(q_overflow), .q_lost(q_lost),
        .q_count(q_count), .g4_valid(g4_valid), .g4_roi(g4_roi), .g4_group(g4_group), .g4_window(g4_window),
        .g4_sample(g4_sample), .g4_time(g4_time), .busy(fl_busy));

    // ------------------------------------------------------ analog-sum records
    localparam [3:0] KIND_ASUM = 4'd1;
    wire         asum_push = r_asum_push;
    wire [127:0] asum_record = {r_beat[29:0], 2'b00, r_window, r_sample, 32'd0, 16'd0, 8'd0,
                                {{(4 - SPB){1'b0}}, r_asum_mask}, KIND_ASUM};
    wire         asum_empty, asum_full;
    wire [127:0] asum_head;
    wire         asum_pop;
    wire [$clog2(OUT_DEPTH):0] asum_count;
    trigger_fifo #(.WIDTH(128), .DEPTH(OUT_DEPTH)) asum_fifo (
        .clk(clk), .rst_n(rst_n), .push(asum_push), .wr_data(asum_record), .pop(asum_pop),
        .rd_data(asum_head), .empty(asum_empty), .full(asum_full), .count(asum_count));
    assign asum_strobe = asum_push && !asum_full;
    assign asum_lost_strobe = asum_push && asum_full;

    assign cand_lost_inc = {{(16 - CNT_W){1'b0}}, q_lost} + {15'd0, c_drop};

    // ------------------------------------------------- network core, threshold, records (trigger_score)
    wire         nn_empty, nn_pop;
    wire [127:0] nn_head;
    wire [7:0]   in_flight;
    trigger_score #(.NN_LATENCY(NN_LATENCY), .NN_OUT_W(NN_OUT_W), .NN_OUT_SIGNED(NN_OUT_SIGNED),
                       .NN_IN_W(NN_IN_W), .GW(GW), .OUT_DEPTH(OUT_DEPTH)) nn (
        .clk(clk), .rst_n(rst_n), .issue(c_issue), .credit(credit),
        .in_valid(g4_valid), .in_roi(g4_roi), .in_group(g4_group), .in_window(g4_window),
        .in_sample(g4_sample), .in_time(g4_time), .nn_threshold(nn_threshold),
        .pop(nn_pop), .head(nn_head), .empty(nn_empty), .pass_strobe(nn_pass_strobe),
        .result_strobe(window_strobe), .in_flight(in_flight));

    // ------------------------------------------------------------------ output (trigger_record_mux)
    trigger_record_mux out (
        .clk(clk), .rst_n(rst_n), .asum_empty(asum_empty), .asum_head(asum_head), .asum_pop(asum_pop),
        .nn_empty(nn_empty), .nn_head(nn_head), .nn_pop(nn_pop),
        .m_axis_tdata(m_axis_tdata), .m_axis_tlast(m_axis_tlast), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready));

    // ------------------------------------------------------------------ status
    reg sticky_overflow, sticky_stale, sticky_asum_lost;
    always @(posedge clk) begin
        if (!rst_n) begin
            sticky_overflow  <= 1'b0;
            sticky_stale     <= 1'b0;
            sticky_asum_lost <= 1'b0;
        end else begin
            sticky_overflow  <= sticky_overflow || q_overflow;
            sticky_stale     <= sticky_stale || c_drop;
            sticky_asum_lost <= sticky_asum_lost || asum_lost_strobe;
        end
    end
    wire busy = fl_busy || in_flight != 8'd0 || !nn_empty || !asum_empty || m_axis_tvalid;
    wire [7:0] queue_level = {{(7 - $clog2(QUEUE_DEPTH)){1'b0}}, q_count};
    assign status = {in_flight, queue_level, 12'd0, busy, sticky_asum_lost, sticky_stale, sticky_overflow};

    // beat bits above 29 wrap the time stamp
    wire unused_ok = &{1'b0, asum_count, r_beat[31:30], r_valid};

endmodule

`default_nettype wire
