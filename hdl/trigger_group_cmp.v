// A repeated slice of the trigger top (trigger_top.v), a module of its own so
// that a synthesis tool that keeps the hierarchy maps it once: the yosys
// estimate of trigger-synth build relies on that (docs/hardware.md, Resources).

`timescale 1 ns / 1 ps
`default_nettype none

// One analog-sum group at one sample: the sum of its three modules, taken as
// a pair sum shared with a neighbouring group (trigger_pair_sum, registered)
// plus its third module, registered (stage B of the top), then compared with
// the gate (network candidates) and the analog-sum threshold; both comparators
// share the sum. One carry chain from register to register each: the sum, then
// each comparison (the top registers the comparisons, S1). 3 x 255 = 765 fits
// 10 bits, so the sum is exact and, with thresholds clipped to 10 bits by the
// top, so are both comparisons. Sharing the pair saves one of the two adders
// of a 3-input sum in about half the groups (244 pairs serve 474 groups).
module trigger_group_cmp (
    input  wire       clk,
    input  wire [8:0] pair,
    input  wire [7:0] c,
    input  wire [9:0] gate_thr,
    input  wire [9:0] asum_thr,
    output wire       above_gate,
    output wire       above_asum
);
    reg [9:0] sum;
    always @(posedge clk)
        sum <= {1'b0, pair} + {2'b00, c};
    assign above_gate = sum > gate_thr;
    assign above_asum = sum > asum_thr;
endmodule

`default_nettype wire
