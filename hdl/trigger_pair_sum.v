// A repeated slice of the trigger top (trigger_top.v), a module of its own so
// that a synthesis tool that keeps the hierarchy maps it once: the yosys
// estimate of trigger-synth build relies on that (docs/hardware.md, Resources).

`timescale 1 ns / 1 ps
`default_nettype none

// The sum of two modules of one sample, shared by the groups that contain
// both (at most two: neighbouring triangles of the camera). Registered (stage A
// of the top): the pair sum is one carry chain, the group sum the next stage's.
module trigger_pair_sum (
    input  wire       clk,
    input  wire [7:0] a,
    input  wire [7:0] b,
    output reg  [8:0] sum
);
    always @(posedge clk)
        sum <= {1'b0, a} + {1'b0, b};
endmodule

`default_nettype wire
