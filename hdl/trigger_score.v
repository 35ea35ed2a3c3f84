// The network stage of a trigger: the core trigger_nn on one ROI a clock, its
// threshold and the network records, in a FIFO whose places are reserved
// before a candidate is issued (so results never meet a full FIFO:
// back-pressure holds candidates upstream, where losses are counted). Used by
// the single top (trigger_top.v, behind trigger_first_level) and by the
// central board (trigger_central_board.v, behind the merge of the readout
// boards' candidates).
//
// Record (128 bits, docs/hardware.md): [3:0] 2, [4] pass, [23:8] group,
// [63:32] score (the core's output integer, sign- or zero-extended),
// [79:64] sample in the window, [95:80] window, [127:96] time stamp.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_score #(
    parameter integer NN_LATENCY = 4,       // register stages of trigger_nn (report.json latency_cycles)
    parameter integer NN_OUT_W = 23,        // width of trigger_nn's model_out
    parameter integer NN_OUT_SIGNED = 1,    // output_kif[0] of report.json
    parameter integer NN_IN_W = 384,        // width of trigger_nn's model_inp
    parameter integer GW = 9,               // group number bits
    parameter integer OUT_DEPTH = 32,       // records in the FIFO (power of two)
    parameter integer OCW = $clog2(OUT_DEPTH) + 1
) (
    input  wire               clk,
    input  wire               rst_n,

    input  wire               issue,      // a candidate was issued upstream: its place is taken
    output wire               credit,     // a place is free for one more candidate

    input  wire               in_valid,   // the candidate's ROI at the core's input
    input  wire [NN_IN_W-1:0] in_roi,
    input  wire [GW-1:0]      in_group,
    input  wire [15:0]        in_window,
    input  wire [15:0]        in_sample,
    input  wire [31:0]        in_time,
    input  wire [31:0]        nn_threshold,

    input  wire               pop,
    output wire [127:0]       head,
    output wire               empty,
    output wire               pass_strobe,   // a network record that passes entered the FIFO
    output wire               result_strobe, // a network record entered the FIFO
    output reg  [7:0]         in_flight      // candidates issued whose record is not in the FIFO yet
);
    localparam [3:0] KIND_NN = 4'd2;

    // A place in the FIFO is reserved for every candidate in flight.
    wire [OCW-1:0] count;
    assign credit = {24'd0, in_flight} + {{(32 - OCW){1'b0}}, count} < OUT_DEPTH;

    wire [NN_OUT_W-1:0] model_out;
    trigger_nn core (.clk(clk), .model_inp(in_roi), .model_out(model_out));

    // what travels beside the core: valid, group, window, sample, time stamp
    localparam integer META_W = 1 + GW + 16 + 16 + 32;
    reg [META_W-1:0] nn_meta [0:NN_LATENCY];
    integer p;
    always @(posedge clk) begin
        nn_meta[0] <= {in_valid && rst_n, in_group, in_window, in_sample, in_time};
        for (p = 1; p <= NN_LATENCY; p = p + 1)
            nn_meta[p] <= nn_meta[p - 1];
        if (!rst_n)
            for (p = 0; p <= NN_LATENCY; p = p + 1)
                nn_meta[p][META_W-1] <= 1'b0;
    end
    wire          nn_valid  = nn_meta[NN_LATENCY][META_W-1];
    wire [GW-1:0] nn_group  = nn_meta[NN_LATENCY][META_W-2 -: GW];
    wire [15:0]   nn_window = nn_meta[NN_LATENCY][48 +: 16];
    wire [15:0]   nn_sample = nn_meta[NN_LATENCY][32 +: 16];
    wire [31:0]   nn_time   = nn_meta[NN_LATENCY][0 +: 32];

    wire [31:0] score = (NN_OUT_SIGNED != 0) ? {{(32 - NN_OUT_W){model_out[NN_OUT_W-1]}}, model_out}
                                      : {{(32 - NN_OUT_W){1'b0}}, model_out};
    wire nn_pass = $signed(score) > $signed(nn_threshold);

    wire [127:0] nn_record = {nn_time, nn_window, nn_sample, score, 8'd0, {(16 - GW){1'b0}}, nn_group,
                              3'd0, nn_pass, KIND_NN};
    wire         full;
    trigger_fifo #(.WIDTH(128), .DEPTH(OUT_DEPTH)) nn_fifo (
        .clk(clk), .rst_n(rst_n), .push(nn_valid), .wr_data(nn_record), .pop(pop),
        .rd_data(head), .empty(empty), .full(full), .count(count));
    assign pass_strobe   = nn_valid && nn_pass;
    assign result_strobe = nn_valid;

    always @(posedge clk) begin
        if (!rst_n)
            in_flight <= 8'd0;
        else
            in_flight <= in_flight + {7'd0, issue} - {7'd0, nn_valid};
    end

    // full cannot be reached (places are reserved)
    wire unused_ok = &{1'b0, full};
endmodule

`default_nettype wire
