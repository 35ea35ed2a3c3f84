// A repeated slice of the trigger top (trigger_top.v), a module of its own so
// that a synthesis tool that keeps the hierarchy maps it once: the yosys
// estimate of trigger-synth build relies on that (docs/hardware.md, Resources).

`timescale 1 ns / 1 ps
`default_nettype none

// One of N words selected by sel (the words of one colour class of modules:
// the module graph of the groups is 3-colourable, so each of a group's three
// modules comes from its own class of about 88 instead of all N_MODULES), in two
// registered steps of at most 3 LUT levels each at 250 MHz: 8-to-1 within
// groups of eight words by sel's low bits (registered, with the high bits),
// then one of the groups (combinational: the caller registers it after its own
// small selection). The word appears one clock after sel and words.
module trigger_word_mux #(
    parameter integer N = 90,
    parameter integer W = 32,
    parameter integer SW = $clog2(N)
) (
    input  wire           clk,
    input  wire [N*W-1:0] words,
    input  wire [SW-1:0]  sel,
    output wire [W-1:0]   word
);
    localparam integer LOW = (SW < 3) ? SW : 3;              // select bits of the first step
    localparam integer NG = (N + (1 << LOW) - 1) >> LOW;     // groups of 2^LOW words
    localparam integer HW = (SW > LOW) ? SW - LOW : 1;
    // padded to whole groups and a power of two of them, so that no select value is out of range
    wire [(1 << SW)*W-1:0] padded = {{((1 << SW) - N)*W{1'b0}}, words};
    reg  [NG*W-1:0] group_word;
    reg  [HW-1:0]   sel_high;
    integer h;
    always @(posedge clk) begin
        for (h = 0; h < NG; h = h + 1)
            group_word[h * W +: W] <= padded[((h << LOW) + {{(32 - LOW){1'b0}}, sel[LOW-1:0]}) * W +: W];
        sel_high <= (SW > LOW) ? sel[SW-1:SW-HW] : {HW{1'b0}};
    end
    wire [(1 << HW)*W-1:0] groups = {{((1 << HW) - NG)*W{1'b0}}, group_word};
    assign word = groups[sel_high * W +: W];
endmodule

`default_nettype wire
