// Synchronous first-word-fall-through FIFO: the head is visible on rd_data
// while empty is low. Storage is a plain array with asynchronous read, which
// maps to distributed (LUT) RAM, the right memory for the shallow, wide queues
// of the trigger top. Pushing when full and popping when empty are ignored;
// the user checks full/empty (and counts what it could not push).

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_fifo #(
    parameter integer WIDTH = 32,
    parameter integer DEPTH = 16,           // a power of two
    parameter integer AW = $clog2(DEPTH)
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire             push,
    input  wire [WIDTH-1:0] wr_data,
    input  wire             pop,
    output wire [WIDTH-1:0] rd_data,
    output wire             empty,
    output wire             full,
    output wire [AW:0]      count
);

    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW:0] wr_ptr, rd_ptr;  // one extra bit tells full from empty

    assign count   = wr_ptr - rd_ptr;
    assign empty   = wr_ptr == rd_ptr;
    assign full    = count == DEPTH[AW:0];
    assign rd_data = mem[rd_ptr[AW-1:0]];

    wire do_push = push && !full;
    wire do_pop  = pop && !empty;

    always @(posedge clk) begin
        if (do_push)
            mem[wr_ptr[AW-1:0]] <= wr_data;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= 0;
            rd_ptr <= 0;
        end else begin
            if (do_push) wr_ptr <= wr_ptr + 1'b1;
            if (do_pop)  rd_ptr <= rd_ptr + 1'b1;
        end
    end

endmodule

`default_nettype wire
