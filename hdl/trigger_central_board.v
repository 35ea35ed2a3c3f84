// Central board of the partitioned trigger (docs/hardware.md, Partitioned
// trigger): the readout boards' candidates through the network, and the
// analog-sum baseline as the OR of the boards' fire bits.
//
//   s_link[b] (64-bit words, one stream per readout board)
//      -> receive FIFO b (trigger_fifo) -> D: frame assembly (FRAME_WORDS
//         words up to tlast) -> V: CRC-8 (two XOR levels on the way in, the
//         rest and the comparison registered a clock later), length and type
//         check -> H: the board's frame, held for the merge
//      -> P: pick, one candidate a clock (round robin over the boards, from
//         registers only), issued only when a result place is reserved
//         (a registered count of trigger_score's free places) -> M: the picked board's frame (a one-hot
//         AND-OR), ROI widened back to 8-bit counts (the network sees
//         min(count, clip))
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
        localparam [3:0]   FRAME_CANDIDATE = 4'd2;
    localparam [3:0]   KIND_ASUM = 4'd1;

`include "trigger_crc8.vh"
    localparam integer CRC_PARTS = (PAYLOAD_W + 35) / 36;  // XORs of 36 payload bits (trigger_xor_parts)

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
            // V moves to H when H is free (a frame taken from H leaves it empty for a clock, so that neither
            // depends on the merge's pick); D moves to V when V is free or moves. The CRC of the payload is an
            // explicit tree of 6-input XORs (trigger_xor_parts, one per CRC bit): two levels at D -> V (v_part,
            // CRC_PARTS per CRC bit), the rest and the comparison in V, registered (v_good) a clock after the
            // frame entered V (v_ready); a bad frame is dropped at V -> H.
            reg  [7:0]             v_crc;    // the frame's CRC byte
            reg  [8*CRC_PARTS-1:0] v_part;   // CRC bit c, part p at [c*CRC_PARTS + p]
            reg                    v_ready, v_good;
            // each CRC bit's parts XORed with the received bit (two XOR levels), then one OR tree over what is
            // wrong (yosys' mapping had chained the comparison: 5 LUT levels)
            wire [7:0]             crc_bad;
            genvar vc;
            for (vc = 0; vc < 8; vc = vc + 1) begin : crc_check
                trigger_xor_parts #(.W(CRC_PARTS + 1)) check (.x({v_crc[vc], v_part[vc * CRC_PARTS +: CRC_PARTS]}),
                                                          .y(crc_bad[vc]));
            end
            (* keep *) wire type_bad = v_payload[3:0] != FRAME_CANDIDATE;
            wire frame_wrong;
            trigger_or_tree #(.W(10)) wrong (.x({crc_bad, type_bad, !v_ok}), .y(frame_wrong));
            wire frame_good = !frame_wrong;
            wire v_move = v_valid && v_ready && !h_valid;
            wire v_free = !v_valid || v_move;
            reg  bad;                        // a frame was dropped (registered before the count)
            always @(posedge clk) begin
                if (!rst_n) begin
                    asm_words <= {WIW{1'b0}};
                    asm_done  <= 1'b0;
                    asm_long  <= 1'b0;
                    v_valid   <= 1'b0;
                    v_ready   <= 1'b0;
                    h_valid   <= 1'b0;
                    bad       <= 1'b0;
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
                    v_ready <= v_valid && !v_free;
                    if (v_move)
                        h_valid <= v_good;
                    else if (take[gb])
                        h_valid <= 1'b0;
                    bad <= v_move && !v_good;
                end
                if (v_free) begin
                    v_ok      <= !asm_long && asm_words == FRAME_WORDS[WIW-1:0];
                    v_payload <= asm_data[PAYLOAD_W-1:0];
                    v_crc     <= asm_data[FRAME_W-8 +: 8];
                end
                v_good <= frame_good;
                if (v_move)
                    h_payload <= v_payload;
            end
            genvar gc;
            for (gc = 0; gc < 8; gc = gc + 1) begin : crc_bit
                wire [CRC_PARTS-1:0] parts;
                trigger_xor_parts #(.W(PAYLOAD_W), .MASK(CRC8_MASKS[gc * PAYLOAD_W +: PAYLOAD_W])) xp (
                    .x(asm_data[PAYLOAD_W-1:0]), .y(parts));
                always @(posedge clk)
                    if (v_free) v_part[gc * CRC_PARTS +: CRC_PARTS] <= parts;
            end
            assign frame_bad[gb] = bad;
            assign hold_valid[gb] = h_valid;
            assign hold_payload[gb * PAYLOAD_W +: PAYLOAD_W] = h_payload;
            // registered: `busy` is a status flag, and its OR over every stage of every board was the deepest
            // path of the board (5 LUT levels into the output)
            reg busy_r;
            always @(posedge clk)
                busy_r <= !rst_n ? 1'b0 : (!empty || asm_words != {WIW{1'b0}} || asm_done || v_valid || h_valid || bad);
            assign rx_busy[gb] = busy_r;
            wire unused_rx = &{1'b0, count, asm_data[FRAME_W-1:PAYLOAD_W]};
        end
    endgenerate

    // ------------------------- P: pick one held frame a clock (round robin), M: the picked frame's fields
    // P decides from registers only (the held flags, the priority mask, credit) and registers the one-hot pick;
    // the picked board's H empties at once (so it is not picked twice), and M selects its payload a clock later
    // (H is refilled only from an empty H, so the payload is still there). The priority mask follows the
    // registered pick (boards after the one picked last come first); the pick reserves the result place
    // (`free`, the places trigger_score's credit counts) when it is made.
    // result places not reserved (trigger_score's OUT_DEPTH - in_flight - count, kept here so that the pick
    // starts at a register: go = a place is free and the network enabled)
    localparam integer FW = $clog2(OUT_DEPTH) + 1;
    wire                credit, nn_pop;
    reg  [FW-1:0]       free;
    reg                 go;
    // some board holds a frame and a place is free: go ANDed in the tree's first level, so that the update
    // of `free` below is one LUT after it
    wire                any_pick;
    trigger_or_and_tree #(.W(N_BOARDS)) any_held (.x(hold_valid), .m({N_BOARDS{go}}), .y(any_pick));
    // kept: go's update is then one LUT after the pick's OR (yosys folded the comparisons into a chain)
    (* keep *) wire     free_1 = free == {{(FW - 1){1'b0}}, 1'b1};
    (* keep *) wire     free_0 = free == {FW{1'b0}};
    wire [FW-1:0]       free_dec = free - {{(FW - 1){1'b0}}, 1'b1};
    wire [FW-1:0]       free_inc = free + {{(FW - 1){1'b0}}, 1'b1};
    reg  [N_BOARDS-1:0] prio;          // boards after the last one picked
    reg  [N_BOARDS-1:0] s_pick;        // P: the board picked last clock (one-hot)
    reg                 s_valid;
    always @(posedge clk) begin
        if (!rst_n) begin
            free <= OUT_DEPTH[FW-1:0];
            go   <= 1'b0;
        end else begin
            // the +-1 from the register, then the choice: the pick is not in front of the carry chain
            free <= (any_pick && !nn_pop) ? free_dec : (nn_pop && !any_pick) ? free_inc : free;
            // free after this clock >= 1
            go   <= nn_enable && !((free_0 && !nn_pop) || (free_1 && any_pick && !nn_pop));
        end
    end
    // the ORs the pick needs, each its own OR tree (2 LUT levels for twelve boards): yosys' mapping built them
    // from each other, a chain of up to six LUTs
    wire                any_hi;
    wire [N_BOARDS-1:0] below_hi, below;   // a board below b asks (among the prio ones / at all)
    reg  [N_BOARDS-1:0] pick;
    trigger_or_and_tree #(.W(N_BOARDS)) hi_any (.x(hold_valid), .m(prio), .y(any_hi));
    genvar gq;
    generate
        for (gq = 0; gq < N_BOARDS; gq = gq + 1) begin : pick_b
            if (gq == 0) begin : first
                assign below_hi[gq] = 1'b0;
                assign below[gq]    = 1'b0;
            end else begin : above_first
                trigger_or_and_tree #(.W(gq)) hi (.x(hold_valid[gq-1:0]), .m(prio[gq-1:0]), .y(below_hi[gq]));
                trigger_or_tree #(.W(gq)) lo (.x(hold_valid[gq-1:0]), .y(below[gq]));
            end
            always @(*)
                pick[gq] = go && hold_valid[gq] && (any_hi ? (prio[gq] && !below_hi[gq]) : !below[gq]);
        end
    endgenerate
    assign take = pick;
    // the priority follows the pick two clocks later: the picked board's index (last_pick), then the boards
    // after it (each a comparison with a constant), so that no prefix OR over the boards is in one clock
    localparam integer BW = (N_BOARDS > 1) ? $clog2(N_BOARDS) : 1;
    reg  [BW-1:0] s_index;
    (* fsm_encoding = "none" *) reg [BW-1:0] last_pick;  // yosys made it one-hot, its compares an OR chain
    reg           last_valid;
    integer pn, pq;
    always @(*) begin
        s_index = {BW{1'b0}};
        for (pn = 0; pn < N_BOARDS; pn = pn + 1)
            if (s_pick[pn]) s_index = s_index | pn[BW-1:0];
    end
    always @(posedge clk) begin
        if (!rst_n) begin
            last_valid <= 1'b0;
            last_pick  <= {BW{1'b0}};
            prio       <= {N_BOARDS{1'b0}};
        end else begin
            last_valid <= s_valid;
            if (s_valid) last_pick <= s_index;
            if (last_valid)
                for (pq = 0; pq < N_BOARDS; pq = pq + 1)
                    prio[pq] <= pq[BW-1:0] > last_pick;
        end
    end

    reg [PAYLOAD_W-1:0] picked;
    integer pj;
    always @(*) begin
        picked = {PAYLOAD_W{1'b0}};
        for (pj = 0; pj < N_BOARDS; pj = pj + 1)
            picked = picked | (hold_payload[pj * PAYLOAD_W +: PAYLOAD_W] & {PAYLOAD_W{s_pick[pj]}});
    end

    reg                      m_valid;
    reg [NN_IN_W-1:0]        m_roi;
    reg [GROUP_ID_BITS-1:0]  m_group;
    reg [31:0]               m_time;
    integer mi;
    always @(posedge clk) begin
        if (!rst_n) begin
            s_valid <= 1'b0;
            s_pick  <= {N_BOARDS{1'b0}};
            m_valid <= 1'b0;
        end else begin
            s_valid <= any_pick;  // = |pick: with go and a frame held, exactly one board is picked
            s_pick  <= pick;
            m_valid <= s_valid;
        end
        m_group <= picked[OFF_GROUP +: GROUP_ID_BITS];
        m_time  <= picked[OFF_TIME +: 32];
        for (mi = 0; mi < NN_INPUTS; mi = mi + 1)
            m_roi[mi * BITS +: BITS] <= {{(BITS - ROI_BITS){1'b0}}, picked[OFF_ROI + mi * ROI_BITS +: ROI_BITS]};
    end

    // ---------------------------------------------- network, threshold, records
    wire         nn_empty, nn_pass_strobe, nn_result_strobe;
    wire [127:0] nn_head;
    wire [7:0]   in_flight;
    trigger_score #(.NN_LATENCY(NN_LATENCY), .NN_OUT_W(NN_OUT_W), .NN_OUT_SIGNED(NN_OUT_SIGNED),
                    .NN_IN_W(NN_IN_W), .GW(GROUP_ID_BITS), .OUT_DEPTH(OUT_DEPTH)) nn (
        .clk(clk), .rst_n(rst_n), .issue(any_pick), .credit(credit),
        .in_valid(m_valid), .in_roi(m_roi), .in_group(m_group), .in_window(16'd0),
        .in_sample(16'd0), .in_time(m_time), .nn_threshold(nn_threshold),
        .pop(nn_pop), .head(nn_head), .empty(nn_empty), .pass_strobe(nn_pass_strobe),
        .result_strobe(nn_result_strobe), .in_flight(in_flight));

    // ---------------------------------------------- F: the analog sum, OR over the boards
    // each board's agreement with board 0, in slices of the time stamp of 3 bits (one LUT each), is
    // registered (d_off) before the OR into `misaligned`
    reg             f_valid;
    reg [SPB-1:0]   f_mask;
    reg [31:0]      f_time;
    reg [SPB-1:0]   any_mask;
    localparam integer D_SL = 11;      // 3-bit slices of the 32-bit time stamp, and the valid bit
    reg [N_BOARDS*(D_SL+1)-1:0] d_off;
    integer fk;
    reg [N_BOARDS-1:0] d_any;          // d_off's OR per board
    reg [1:0]          fire_seen;      // fire bits one and two clocks ago (busy while d_off, d_any settle)
    integer fb;
    always @(*) begin
        any_mask = {SPB{1'b0}};
        for (fb = 0; fb < N_BOARDS; fb = fb + 1)
            any_mask = any_mask | fire_mask[fb * SPB +: SPB];
    end
    always @(posedge clk) begin
        if (!rst_n) begin
            f_valid    <= 1'b0;
            misaligned <= 1'b0;
            d_off      <= {(N_BOARDS * (D_SL + 1)){1'b0}};
            d_any      <= {N_BOARDS{1'b0}};
            fire_seen  <= 2'b00;
        end else begin
            f_valid    <= fire_valid[0] && |any_mask && asum_enable;
            misaligned <= misaligned || |d_any;
            fire_seen  <= {fire_seen[0], |fire_valid};
            for (fb = 0; fb < N_BOARDS; fb = fb + 1)
                d_any[fb] <= |d_off[fb * (D_SL + 1) +: D_SL + 1];
            for (fb = 0; fb < N_BOARDS; fb = fb + 1) begin
                d_off[fb * (D_SL + 1) + D_SL] <= fire_valid[fb] != fire_valid[0];
                for (fk = 0; fk < D_SL; fk = fk + 1)
                    d_off[fb * (D_SL + 1) + fk] <= fire_valid[fb]
                        && ({1'b0, fire_time[fb * 32 +: 32]} >> (3 * fk)) % 8 != ({1'b0, fire_time[0 +: 32]} >> (3 * fk)) % 8;
            end
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

    // a status flag, registered in two steps (per board above, then here): it follows the stages two clocks
    // late, so a drain check reads it at least two clocks after the last input
    reg busy_r;
    always @(posedge clk)
        busy_r <= !rst_n ? 1'b0 : (|rx_busy || s_valid || m_valid || |fire_seen || in_flight != 8'd0 || !nn_empty
                                   || f_valid || !asum_empty || m_axis_tvalid);
    assign busy = busy_r;

    wire unused_ok = &{1'b0, asum_count, nn_pass_strobe, nn_result_strobe, credit};
endmodule

`default_nettype wire
