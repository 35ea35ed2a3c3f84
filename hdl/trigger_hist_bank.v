// A repeated slice of the trigger top (trigger_top.v), a module of its own so
// that a synthesis tool that keeps the hierarchy maps it once: the yosys
// estimate of trigger-synth build relies on that (docs/hardware.md, Resources).

`timescale 1 ns / 1 ps
`default_nettype none

// One history bank: DEPTH beats, one write and one registered read port
// (read-before-write on the same address). LUT-RAM sized (DEPTH 32); BLOCK = 1
// asks for block RAM instead: a 32-deep 8480-bit bank is 118 RAMB36 at 72
// bits wide, mostly empty, but it frees the 4,880 LUTs the bank takes as
// LUT-RAM, and LUTs are what the trigger's budget is short of.
module trigger_hist_bank #(
    parameter integer WIDTH = 8480,
    parameter integer DEPTH = 32,
    parameter integer BLOCK = 0,
    parameter integer AW = $clog2(DEPTH)
) (
    input  wire             clk,
    input  wire             we,
    input  wire [AW-1:0]    waddr,
    input  wire [WIDTH-1:0] wdata,
    input  wire [AW-1:0]    raddr,
    output reg  [WIDTH-1:0] rdata
);
    generate
        if (BLOCK != 0) begin : block
            (* ram_style = "block" *) reg [WIDTH-1:0] mem [0:DEPTH-1];
            always @(posedge clk) begin
                if (we)
                    mem[waddr] <= wdata;
                rdata <= mem[raddr];
            end
        end else begin : distributed
            (* ram_style = "distributed" *) reg [WIDTH-1:0] mem [0:DEPTH-1];
            always @(posedge clk) begin
                if (we)
                    mem[waddr] <= wdata;
                rdata <= mem[raddr];
            end
        end
    endgenerate
endmodule

`default_nettype wire
