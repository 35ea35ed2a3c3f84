// Central board of the partitioned trigger (docs/hardware.md, Partitioned
// trigger): the readout boards' candidates through the network, and the
// analog-sum baseline as the OR of the boards' fire bits.
//
//   s_link[b] (64-bit words, one stream per readout board)
//      -> receive FIFO b (trigger_fifo) -> D: frame assembly (FRAME_WORDS
//         words up to tlast) -> V: CRC-8 (computed on the way in) and length
//         check -> H: the board's
//         frame, held for the merge
//      -> M: merge, one candidate a clock (round robin over the boards),
//         issued only when a result place is reserved (trigger_score's credit)
//         ROI widened back to 8-bit counts (the network sees min(count, clip))
//      -> trigger_score: trigger_nn, score > nn_threshold, network records
//   fire_*[b] (a fixed-latency side band: the boards decide each beat on the
//   same clock) -> F: OR over the boards -> analog-sum record (beats with a fire)
//   both -> trigger_record_mux -> m_axis (128-bit records, trigger_top's format)
//
// The central board works in time stamps: the records' window and sample
// fields are 0 (where a time stamp falls in a readout window is the event
// builder's business; the boards applied the decision range). A frame whose
// CRC or length is wrong is dropped and counted (crc_errors); fire bits of
// boards that disagree on the beat set `misaligned` (sticky). The links'
// transceivers (Aurora 64B/66B, GTH) are not here.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_central_board #(
    parameter integer N_BOARDS = 12,
    parameter integer SPB = 4,
    parameter integer N_BEFORE = 10,
    parameter integer N_AFTER = 6,
    parameter integer CLIP = 255,
    parameter integer GROUP_ID_BITS = 9,
    parameter integer RX_DEPTH = 16,        // words per receive FIFO (power of two)
    parameter integer OUT_DEPTH = 32,       // records per output FIFO (power of two)
    parameter integer NN_LATENCY = 4,
    parameter integer NN_OUT_W = 23,
    parameter integer NN_OUT_SIGNED = 1
) (
    input  wire                    clk,
    input  wire                    rst_n,

    input  wire [N_BOARDS*64-1:0]  s_link_tdata,
    input  wire [N_BOARDS-1:0]     s_link_tlast,
    input  wire [N_BOARDS-1:0]     s_link_tvalid,
    output wire [N_BOARDS-1:0]     s_link_tready,

    input  wire [N_BOARDS-1:0]     fire_valid,
    input  wire [N_BOARDS*SPB-1:0] fire_mask,
    input  wire [N_BOARDS*32-1:0]  fire_time,

    input  wire                    nn_enable,
    input  wire                    asum_enable,
    input  wire [31:0]             nn_threshold,

    output wire [127:0]            m_axis_tdata,
    output wire                    m_axis_tlast,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,

    output reg  [15:0]             crc_errors,   // frames dropped: wrong CRC or length
    output reg  [15:0]             asum_lost,    // analog-sum records lost to back-pressure
    output reg                     misaligned,   // the boards' fire bits were not of one beat (sticky)
    output wire                    busy
);
    localparam integer BITS = 8;
    localparam integer WINDOW = N_BEFORE + N_AFTER;
    localparam integer NN_INPUTS = 3 * WINDOW;
    localparam integer NN_IN_W = NN_INPUTS * BITS;
    localparam integer ROI_BITS = (CLIP >= 255) ? BITS : $clog2(CLIP + 1);
    localparam integer OFF_GROUP = 4;
    localparam integer OFF_TIME = OFF_GROUP + GROUP_ID_BITS;
    localparam integer OFF_ROI = OFF_TIME + 32;
    localparam integer PAYLOAD_W = OFF_ROI + NN_INPUTS * ROI_BITS;
    localparam integer FRAME_WORDS = (PAYLOAD_W + 8 + 63) / 64;
    localparam integer FRAME_W = FRAME_WORDS * 64;
    localparam integer WIW = $clog2(FRAME_WORDS + 1);
    localparam integer BW = (N_BOARDS > 1) ? $clog2(N_BOARDS) : 1;
    localparam [3:0]   FRAME_CANDIDATE = 4'd2;
    localparam [3:0]   KIND_ASUM = 4'd1;

`include "trigger_crc8.vh"

    // ---------------------------------------------- per board: receive, assemble, check, hold
    wire [N_BOARDS-1:0]         hold_valid;
    wire [N_BOARDS*PAYLOAD_W-1:0] hold_payload;
    wire [N_BOARDS-1:0]         take;          // the merge takes board b's held frame
    wire [N_BOARDS-1:0]         frame_bad;
    wire [N_BOARDS-1:0]         rx_busy;
    genvar gb;
    generate
        for (gb = 0; gb < N_BOARDS; gb = gb + 1) begin : rx
            wire        empty, full;
            wire [64:0] head;
            wire [$clog2(RX_DEPTH):0] count;
            // D: words into the frame register until tlast
            reg  [FRAME_W-1:0] asm_data;
            reg  [WIW-1:0]     asm_words;
            reg                asm_done, asm_long;
            // V: checked, H: held for the merge
            reg                 v_valid, v_ok;
            reg [PAYLOAD_W-1:0] v_payload;
            reg                 h_valid;
            reg [PAYLOAD_W-1:0] h_payload;
            wire pop = !empty && !asm_done;
            assign s_link_tready[gb] = !full;
            trigger_fifo #(.WIDTH(65), .DEPTH(RX_DEPTH)) fifo (
                .clk(clk), .rst_n(rst_n), .push(s_link_tvalid[gb]), .wr_data({s_link_tlast[gb], s_link_tdata[gb * 64 +: 64]}),
                .pop(pop), .rd_data(head), .empty(empty), .full(full), .count(count));
            // V moves to H when H is free or taken this clock (a bad frame is dropped there); D moves to V
            // when V is free or moves
            reg  [7:0] v_crc, v_calc;  // the frame's CRC byte, and the CRC of its payload (computed at D -> V)
            wire frame_good = v_calc == v_crc && v_payload[3:0] == FRAME_CANDIDATE;
            wire v_move = v_valid && (!h_valid || take[gb]);
            wire v_free = !v_valid || v_move;
            always @(posedge clk) begin
                if (!rst_n) begin
                    asm_words <= {WIW{1'b0}};
                    asm_done  <= 1'b0;
                    asm_long  <= 1'b0;
                    v_valid   <= 1'b0;
                    h_valid   <= 1'b0;
                end else begin
                    if (pop) begin
                        if (asm_words < FRAME_WORDS[WIW-1:0])
                            asm_data[asm_words * 64 +: 64] <= head[63:0];
                        else
                            asm_long <= 1'b1;
                        if (asm_words != {WIW{1'b1}})
                            asm_words <= asm_words + 1'b1;
                        asm_done <= head[64];
                    end
                    if (asm_done && v_free) begin
                        asm_done  <= 1'b0;
                        asm_words <= {WIW{1'b0}};
                        asm_long  <= 1'b0;
                    end
                    if (v_free)
                        v_valid <= asm_done;
                    if (v_move)
                        h_valid <= v_ok && frame_good;
                    else if (take[gb])
                        h_valid <= 1'b0;
                end
                if (v_free) begin
                    v_ok      <= !asm_long && asm_words == FRAME_WORDS[WIW-1:0];
                    v_payload <= asm_data[PAYLOAD_W-1:0];
                    v_crc     <= asm_data[FRAME_W-8 +: 8];
                    v_calc    <= crc8(asm_data[PAYLOAD_W-1:0]);
                end
                if (v_move)
                    h_payload <= v_payload;
            end
            assign frame_bad[gb] = v_move && !(v_ok && frame_good);
            assign hold_valid[gb] = h_valid;
            assign hold_payload[gb * PAYLOAD_W +: PAYLOAD_W] = h_payload;
            assign rx_busy[gb] = !empty || asm_words != {WIW{1'b0}} || asm_done || v_valid || h_valid;
            wire unused_rx = &{1'b0, count, asm_data[FRAME_W-1:PAYLOAD_W]};
        end
    endgenerate

    // ---------------------------------------------- M: merge, one candidate a clock (round robin)
    wire credit;
    reg  [BW-1:0]  last_grant;
    // boards after the last one served first, then the others: lowest set bit of each half
    wire [N_BOARDS-1:0] after_last;
    genvar ga;
    generate
        for (ga = 0; ga < N_BOARDS; ga = ga + 1) begin : order
            /* verilator lint_off UNSIGNED */
            assign after_last[ga] = ga > last_grant;
            /* verilator lint_on UNSIGNED */
        end
    endgenerate
    wire [N_BOARDS-1:0] req = hold_valid & {N_BOARDS{credit && nn_enable}};
    wire [N_BOARDS-1:0] req_hi = req & after_last;
    wire [N_BOARDS-1:0] pick = (|req_hi) ? (req_hi & ~(req_hi - 1'b1)) : (req & ~(req - 1'b1));
    assign take = pick;
    reg  [BW-1:0] pick_index;
    integer pi;
    always @(*) begin
        pick_index = {BW{1'b0}};
        for (pi = 0; pi < N_BOARDS; pi = pi + 1)
            if (pick[pi]) pick_index = pi[BW-1:0];
    end
    reg [PAYLOAD_W-1:0] picked;
    integer pj;
    always @(*) begin
        picked = {PAYLOAD_W{1'b0}};
        for (pj = 0; pj < N_BOARDS; pj = pj + 1)
            picked = picked | (hold_payload[pj * PAYLOAD_W +: PAYLOAD_W] & {PAYLOAD_W{pick[pj]}});
    end

    reg                      m_valid;
    reg [NN_IN_W-1:0]        m_roi;
    reg [GROUP_ID_BITS-1:0]  m_group;
    reg [31:0]               m_time;
    integer mi;
    always @(posedge clk) begin
        if (!rst_n) begin
            m_valid    <= 1'b0;
            last_grant <= {BW{1'b1}};
        end else begin
            m_valid <= |pick;
            if (|pick) last_grant <= pick_index;
        end
        m_group <= picked[OFF_GROUP +: GROUP_ID_BITS];
        m_time  <= picked[OFF_TIME +: 32];
        for (mi = 0; mi < NN_INPUTS; mi = mi + 1)
            m_roi[mi * BITS +: BITS] <= {{(BITS - ROI_BITS){1'b0}}, picked[OFF_ROI + mi * ROI_BITS +: ROI_BITS]};
    end

    // ---------------------------------------------- network, threshold, records
    wire         nn_empty, nn_pop, nn_pass_strobe, nn_result_strobe;
    wire [127:0] nn_head;
    wire [7:0]   in_flight;
    trigger_score #(.NN_LATENCY(NN_LATENCY), .NN_OUT_W(NN_OUT_W), .NN_OUT_SIGNED(NN_OUT_SIGNED),
                    .NN_IN_W(NN_IN_W), .GW(GROUP_ID_BITS), .OUT_DEPTH(OUT_DEPTH)) nn (
        .clk(clk), .rst_n(rst_n), .issue(|pick), .credit(credit),
        .in_valid(m_valid), .in_roi(m_roi), .in_group(m_group), .in_window(16'd0),
        .in_sample(16'd0), .in_time(m_time), .nn_threshold(nn_threshold),
        .pop(nn_pop), .head(nn_head), .empty(nn_empty), .pass_strobe(nn_pass_strobe),
        .result_strobe(nn_result_strobe), .in_flight(in_flight));

    // ---------------------------------------------- F: the analog sum, OR over the boards
    reg             f_valid;
    reg [SPB-1:0]   f_mask;
    reg [31:0]      f_time;
    reg [SPB-1:0]   any_mask;
    reg             disagree;
    integer fb;
    always @(*) begin
        any_mask = {SPB{1'b0}};
        disagree = 1'b0;
        for (fb = 0; fb < N_BOARDS; fb = fb + 1) begin
            any_mask = any_mask | fire_mask[fb * SPB +: SPB];
            if (fire_valid[fb] != fire_valid[0]
                || (fire_valid[fb] && fire_time[fb * 32 +: 32] != fire_time[0 +: 32]))
                disagree = 1'b1;
        end
    end
    always @(posedge clk) begin
        if (!rst_n) begin
            f_valid    <= 1'b0;
            misaligned <= 1'b0;
        end else begin
            f_valid    <= fire_valid[0] && |any_mask && asum_enable;
            misaligned <= misaligned || disagree;
        end
        f_mask <= any_mask;
        f_time <= fire_time[0 +: 32];
    end

    wire         asum_empty, asum_full, asum_pop;
    wire [127:0] asum_head;
    wire [$clog2(OUT_DEPTH):0] asum_count;
    wire [127:0] asum_record = {f_time, 16'd0, 16'd0, 32'd0, 16'd0, 8'd0, {{(4 - SPB){1'b0}}, f_mask}, KIND_ASUM};
    trigger_fifo #(.WIDTH(128), .DEPTH(OUT_DEPTH)) asum_fifo (
        .clk(clk), .rst_n(rst_n), .push(f_valid), .wr_data(asum_record), .pop(asum_pop),
        .rd_data(asum_head), .empty(asum_empty), .full(asum_full), .count(asum_count));

    always @(posedge clk) begin
        if (!rst_n) begin
            crc_errors <= 16'd0;
            asum_lost  <= 16'd0;
        end else begin
            if (|frame_bad && crc_errors != 16'hFFFF) crc_errors <= crc_errors + 16'd1;
            if (f_valid && asum_full && asum_lost != 16'hFFFF) asum_lost <= asum_lost + 16'd1;
        end
    end

    // ---------------------------------------------- output
    trigger_record_mux out (
        .clk(clk), .rst_n(rst_n), .asum_empty(asum_empty), .asum_head(asum_head), .asum_pop(asum_pop),
        .nn_empty(nn_empty), .nn_head(nn_head), .nn_pop(nn_pop),
        .m_axis_tdata(m_axis_tdata), .m_axis_tlast(m_axis_tlast), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(m_axis_tready));

    assign busy = |rx_busy || m_valid || in_flight != 8'd0 || !nn_empty || f_valid || !asum_empty || m_axis_tvalid;

    wire unused_ok = &{1'b0, asum_count, nn_pass_strobe, nn_result_strobe};
endmodule

`default_nettype wire
