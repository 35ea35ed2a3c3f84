// At most K of W bits set: the candidate picker's "last candidate of a chunk" and "one candidate in the
// chunk" flags (trigger_cand_picker.v), without a carry chain or a wide zero test behind them.

`timescale 1 ns / 1 ps
`default_nettype none

// y = at most K of the W bits of x are set (K < 3), as a tree of saturating 2-bit counts (0, 1, 2, 3 = three
// or more): one LUT level for the counts of 6-bit slices, one for each sum of three counts, one for the
// final comparison; W = 32 takes 3 LUT levels, W = 8 takes 2. Its nets are kept: yosys' mapping otherwise
// builds population counts and wide zero tests as chains of LUTs.
module trigger_at_most #(
    parameter integer W = 32,
    parameter integer K = 1
) (
    input  wire [W-1:0] x,
    output wire         y
);
    // 2-bit saturating counts as 64-entry tables indexed by six bits (one LUT6 an output bit): written with
    // `+`, yosys maps the sums to carry chains
    function automatic [127:0] count_table(input integer of_counts);  // of six bits / of three 2-bit counts
        integer v, n;
        begin
            for (v = 0; v < 64; v = v + 1) begin
                if (of_counts != 0) n = (v & 3) + ((v >> 2) & 3) + ((v >> 4) & 3);
                else n = (v & 1) + ((v >> 1) & 1) + ((v >> 2) & 1) + ((v >> 3) & 1) + ((v >> 4) & 1) + ((v >> 5) & 1);
                count_table[2 * v +: 2] = (n > 3) ? 2'd3 : n[1:0];
            end
        end
    endfunction
    function automatic [63:0] final_table(input integer k);            // three 2-bit counts add up to <= k
        integer v;
        begin
            for (v = 0; v < 64; v = v + 1)
                final_table[v] = (v & 3) + ((v >> 2) & 3) + ((v >> 4) & 3) <= k;
        end
    endfunction
    localparam [127:0] OF_BITS = count_table(0);
    localparam [127:0] OF_COUNTS = count_table(1);
    localparam [63:0] AT_MOST_K = final_table(K);
    // counts of 6-bit slices (level 0), then of three counts a level, until at most three are left; each
    // level a vector of its own (one vector across the levels reads as a loop to Verilator), kept
    localparam integer N0 = (W + 5) / 6;
    localparam integer N1 = (N0 + 2) / 3;
    localparam integer N2 = (N1 + 2) / 3;
    localparam integer N3 = (N2 + 2) / 3;
    localparam integer L = (N0 <= 3) ? 0 : (N1 <= 3) ? 1 : (N2 <= 3) ? 2 : 3;
    wire [6*N0-1:0] xp = {{(6 * N0 - W){1'b0}}, x};
    (* keep *) wire [2*N0-1:0] c0;
    (* keep *) wire [2*N1-1:0] c1;
    (* keep *) wire [2*N2-1:0] c2;
    (* keep *) wire [2*N3-1:0] c3;
    // each level padded with a zero count, so that a short last group reads zeros
    wire [2*N0+5:0] p0 = {6'd0, c0};
    wire [2*N1+5:0] p1 = {6'd0, c1};
    wire [2*N2+5:0] p2 = {6'd0, c2};
    wire [2*N3+5:0] p3 = {6'd0, c3};
    genvar gi;
    generate
        if (N3 > 3) begin : width_check
            trigger_at_most_takes_at_most_162_bits unsupported_parameters ();
        end
        for (gi = 0; gi < N0; gi = gi + 1) begin : count0
            assign c0[2 * gi +: 2] = OF_BITS[2 * xp[6 * gi +: 6] +: 2];
        end
        if (L >= 1) begin : level1
            for (gi = 0; gi < N1; gi = gi + 1) begin : count1
                assign c1[2 * gi +: 2] = OF_COUNTS[2 * p0[6 * gi +: 6] +: 2];
            end
        end else begin : unused1
            assign c1 = {(2 * N1){1'b0}};
        end
        if (L >= 2) begin : level2
            for (gi = 0; gi < N2; gi = gi + 1) begin : count2
                assign c2[2 * gi +: 2] = OF_COUNTS[2 * p1[6 * gi +: 6] +: 2];
            end
        end else begin : unused2
            assign c2 = {(2 * N2){1'b0}};
        end
        if (L >= 3) begin : level3
            for (gi = 0; gi < N3; gi = gi + 1) begin : count3
                assign c3[2 * gi +: 2] = OF_COUNTS[2 * p2[6 * gi +: 6] +: 2];
            end
        end else begin : unused3
            assign c3 = {(2 * N3){1'b0}};
        end
    endgenerate
    // the last level's (at most three) counts against K; the levels above it are not used
    wire [5:0] last = (L == 0) ? p0[5:0] : (L == 1) ? p1[5:0] : (L == 2) ? p2[5:0] : p3[5:0];
    assign y = AT_MOST_K[last];
    wire unused_ok = &{1'b0, p0, p1, p2, p3};
endmodule

`default_nettype wire
