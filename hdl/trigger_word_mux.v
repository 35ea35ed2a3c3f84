// A repeated slice of the trigger top (trigger_top.v), a module of its own so
// that a synthesis tool that keeps the hierarchy maps it once: the yosys
// estimate of trigger-synth build relies on that (docs/hardware.md, Resources).

`timescale 1 ns / 1 ps
`default_nettype none

// One of N words selected by sel (the words of one colour class of modules:
// the module graph of the groups is 3-colourable, so each of a group's three
// modules comes from its own class of about 88 instead of all 265).
module trigger_word_mux #(
    parameter integer N = 90,
    parameter integer W = 32,
    parameter integer SW = $clog2(N)
) (
    input  wire [N*W-1:0] words,
    input  wire [SW-1:0]  sel,
    output wire [W-1:0]   word
);
    // padded to a power of two so that no select value is out of range
    wire [(1 << SW)*W-1:0] padded = {{((1 << SW) - N)*W{1'b0}}, words};
    assign word = padded[sel * W +: W];
endmodule

`default_nettype wire
