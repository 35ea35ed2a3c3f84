// y = |x as a tree of 6-input ORs whose levels are kept: a W-input OR in ceil(log6(W)) LUT levels (W up to
// 6^4). yosys' LUT mapping otherwise builds wide ORs as chains of LUTs (the candidate picker's 32-to-5 encoder
// and the central board's pick were 5 and 6 levels), and shares them between neighbouring ORs, which chains
// them too. Each level is a vector of its own (one vector across the levels reads as a loop to Verilator).

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_or_tree #(
    parameter integer W = 8
) (
    input  wire [W-1:0] x,
    output wire         y
);
    localparam integer N1 = (W + 5) / 6;
    localparam integer N2 = (N1 + 5) / 6;
    localparam integer N3 = (N2 + 5) / 6;
    localparam integer N4 = (N3 + 5) / 6;
    (* keep *) wire [N1-1:0] l1;
    (* keep *) wire [N2-1:0] l2;
    (* keep *) wire [N3-1:0] l3;
    wire [N4-1:0] l4;
    genvar gi;
    generate
        if (N4 > 1) begin : width_check
            trigger_or_tree_takes_at_most_1296_bits unsupported_parameters ();
        end
        for (gi = 0; gi < N1; gi = gi + 1) begin : or1
            assign l1[gi] = |x[6 * gi +: ((W - 6 * gi < 6) ? W - 6 * gi : 6)];
        end
        for (gi = 0; gi < N2; gi = gi + 1) begin : or2
            assign l2[gi] = |l1[6 * gi +: ((N1 - 6 * gi < 6) ? N1 - 6 * gi : 6)];
        end
        for (gi = 0; gi < N3; gi = gi + 1) begin : or3
            assign l3[gi] = |l2[6 * gi +: ((N2 - 6 * gi < 6) ? N2 - 6 * gi : 6)];
        end
        for (gi = 0; gi < N4; gi = gi + 1) begin : or4
            assign l4[gi] = |l3[6 * gi +: ((N3 - 6 * gi < 6) ? N3 - 6 * gi : 6)];
        end
    endgenerate
    assign y = l4[0];
endmodule

// y = |(x & m): the first level takes three (x, m) pairs a LUT, then trigger_or_tree (the central board's
// pick among the boards that have priority)
/* verilator lint_off DECLFILENAME */
module trigger_or_and_tree #(
    parameter integer W = 8
) (
    input  wire [W-1:0] x,
    input  wire [W-1:0] m,
    output wire         y
);
    localparam integer N1 = (W + 2) / 3;
    (* keep *) wire [N1-1:0] l1;
    genvar gi;
    generate
        for (gi = 0; gi < N1; gi = gi + 1) begin : and_or3
            localparam integer NT = (W - 3 * gi < 3) ? W - 3 * gi : 3;
            assign l1[gi] = |(x[3 * gi +: NT] & m[3 * gi +: NT]);
        end
    endgenerate
    trigger_or_tree #(.W(N1)) rest (.x(l1), .y(y));
endmodule
/* verilator lint_on DECLFILENAME */

`default_nettype wire
