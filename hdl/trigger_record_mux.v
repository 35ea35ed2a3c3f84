// The output of a trigger: records from two FIFOs (analog sum, network) to
// one AXI-Stream with full back-pressure. A register in front of m_axis keeps
// a record stable while it waits; the two FIFOs take turns when both hold
// records. Used by the single top (trigger_top.v) and the central board
// (trigger_central_board.v).

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_record_mux (
    input  wire         clk,
    input  wire         rst_n,
    input  wire         asum_empty,
    input  wire [127:0] asum_head,
    output wire         asum_pop,
    input  wire         nn_empty,
    input  wire [127:0] nn_head,
    output wire         nn_pop,
    output wire [127:0] m_axis_tdata,
    output wire         m_axis_tlast,
    output wire         m_axis_tvalid,
    input  wire         m_axis_tready
);
    reg         out_valid;
    reg [127:0] out_data;
    reg         last_was_nn;
    wire        out_load = !out_valid || m_axis_tready;
    wire        take_nn  = !nn_empty && (asum_empty || !last_was_nn);
    assign nn_pop   = out_load && take_nn;
    assign asum_pop = out_load && !take_nn && !asum_empty;

    always @(posedge clk) begin
        if (!rst_n) begin
            out_valid   <= 1'b0;
            last_was_nn <= 1'b0;
        end else if (out_load) begin
            out_valid <= nn_pop || asum_pop;
            if (nn_pop) begin
                out_data    <= nn_head;
                last_was_nn <= 1'b1;
            end else if (asum_pop) begin
                out_data    <= asum_head;
                last_was_nn <= 1'b0;
            end
        end
    end
    assign m_axis_tvalid = out_valid;
    assign m_axis_tdata  = out_data;
    assign m_axis_tlast  = 1'b1;
endmodule

`default_nettype wire
