// A repeated slice of the trigger top (trigger_top.v), a module of its own so
// that a synthesis tool that keeps the hierarchy maps it once: the yosys
// estimate of trigger-synth build relies on that (docs/hardware.md, Resources).

`timescale 1 ns / 1 ps
`default_nettype none

// One history bank: DEPTH beats, one write and one registered read port
// (read-before-write on the same address), LUT-RAM sized.
module trigger_hist_bank #(
    parameter integer WIDTH = 8480,
    parameter integer DEPTH = 32,
    parameter integer AW = $clog2(DEPTH)
) (
    input  wire             clk,
    input  wire             we,
    input  wire [AW-1:0]    waddr,
    input  wire [WIDTH-1:0] wdata,
    input  wire [AW-1:0]    raddr,
    output reg  [WIDTH-1:0] rdata
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    always @(posedge clk) begin
        if (we)
            mem[waddr] <= wdata;
        rdata <= mem[raddr];
    end
endmodule

`default_nettype wire
