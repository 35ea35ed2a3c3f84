// y[p] = XOR of the bits of x[p*36 +: 36] that MASK selects, in two kept levels of 6-input XORs: the central
// board's CRC-8 check, one instance per CRC bit (trigger_crc8.vh's masks). In one module yosys' mapping built
// each CRC bit's XORs from another's (they share payload bits), a chain of five LUTs.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_xor_parts #(
    parameter integer W = 36,
    parameter [W-1:0] MASK = {W{1'b1}}
) (
    input  wire [W-1:0]            x,
    output wire [(W+35)/36-1:0]    y
);
    localparam integer NP = (W + 35) / 36;
    localparam integer N6 = (W + 5) / 6;
    wire [6*N6-1:0] xm = {{(6 * N6 - W){1'b0}}, x & MASK};
    (* keep *) wire [N6-1:0] l1;
    wire [6*NP-1:0] l1p = {{(6 * NP - N6){1'b0}}, l1};
    genvar gi;
    generate
        for (gi = 0; gi < N6; gi = gi + 1) begin : xor6
            assign l1[gi] = ^xm[6 * gi +: 6];
        end
        for (gi = 0; gi < NP; gi = gi + 1) begin : part
            assign y[gi] = ^l1p[6 * gi +: 6];
        end
    endgenerate
endmodule

`default_nettype wire
