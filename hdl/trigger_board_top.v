// Board wrapper of the trigger top for a Zynq UltraScale+ with AXI DMA.
//
// The top takes one 8480-bit beat (4 samples x N_MODULES modules x 8 bits) per
// clock; AXI DMA streams are at most 1024 bits wide. This wrapper assembles
// beats from a DMA_W-bit stream and turns the top's records into DMA packets.
// It is what the Vivado block design instantiates and what the simulated board
// (trigger/deploy/simboard.py) Verilates, so both exercise the same packing.
//
// Input packing (s_axis, DMA_W bits, little-endian: byte 0 in tdata[7:0]):
// a beat record is WORDS = ceil((BEAT_W + 8) / DMA_W) words; its bytes are
//   0 .. BEAT_W/8-1   the top's beat (sample j of module m at byte j*N_MODULES + m)
//   BEAT_W/8          flags: bit 0 first beat of a window (the top's tuser),
//                     bit 1 last beat of a window (tlast), bit 7 end of batch
//   the rest          zero
// A record with bit 7 is not a beat: it asks for the end record (below) once
// the top's records have left. Software sends it only after STATUS.busy reads
// 0, because the wrapper cannot see inside the top. STATUS.busy read through
// this wrapper also covers the beat waiting here for the top: only one clock,
// but a read right after the DMA sent the last word can land in it.
// The DMA's tlast ends a transfer, not a beat; a transfer that ends inside a
// record loses that partial record, and the end record counts it.
//
// Output (m_axis, 128 bits): the top's records unchanged, then per batch one
// end record:
//   [3:0] 4'hF, [31:16] partial input records dropped (saturating),
//   [63:32] records in the batch, [79:64] windows started in the batch,
//   [95:80] number of the batch's first window (the top's window numbering),
//   [127:96] beats in the batch.
// tlast is set on every PACKET-th record and on the end record: the DMA's
// receive buffer must hold PACKET records, whatever the batch produces.
//
// The AXI-Lite register block of the top is passed through; only the busy
// bit of STATUS is widened (above).

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_board_top #(
    parameter integer DMA_W = 64,           // width of the DMA streams (32 .. 1024, a power of two)
    parameter integer PACKET = 256,         // records per receive DMA packet
    parameter integer SPB = 4,
    parameter integer N_BEFORE = 10,        // ROI of the trained trigger (trigger.hardware.spec.TopSpec)
    parameter integer N_AFTER = 6,
    parameter integer HIST_DEPTH = 32,
    parameter integer QUEUE_DEPTH = 16,
    parameter integer OUT_DEPTH = 32,
    parameter integer NN_LATENCY = 4,
    parameter integer NN_OUT_W = 23,
    parameter integer NN_OUT_SIGNED = 1,
    parameter [31:0]  VERSION = 32'h0001_0000,
    // the camera's module count, set by the build (TopSpec.verilog_parameters), checked by trigger_top
    parameter integer N_CAMERA_MODULES = 0
) (
    input  wire             aclk,
    input  wire             aresetn,

    input  wire [DMA_W-1:0] s_axis_tdata,
    input  wire             s_axis_tlast,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,

    output wire [127:0]     m_axis_tdata,
    output wire [15:0]      m_axis_tkeep,
    output wire             m_axis_tlast,
    output wire             m_axis_tvalid,
    input  wire             m_axis_tready,

    input  wire [7:0]       s_axil_awaddr,
    input  wire             s_axil_awvalid,
    output wire             s_axil_awready,
    input  wire [31:0]      s_axil_wdata,
    input  wire [3:0]       s_axil_wstrb,
    input  wire             s_axil_wvalid,
    output wire             s_axil_wready,
    output wire [1:0]       s_axil_bresp,
    output wire             s_axil_bvalid,
    input  wire             s_axil_bready,
    input  wire [7:0]       s_axil_araddr,
    input  wire             s_axil_arvalid,
    output wire             s_axil_arready,
    output wire [31:0]      s_axil_rdata,
    output wire [1:0]       s_axil_rresp,
    output wire             s_axil_rvalid,
    input  wire             s_axil_rready
);

    // only N_MODULES is used here: the rest of the table is trigger_top's
    /* verilator lint_off UNUSEDPARAM */
`include "trigger_groups.vh"
    /* verilator lint_on UNUSEDPARAM */

    localparam integer BEAT_W = SPB * N_MODULES * 8;  // the top's s_axis width
    localparam integer WORDS = (BEAT_W + 8 + DMA_W - 1) / DMA_W;
    localparam integer REC_W = WORDS * DMA_W;
    localparam integer ACC_W = REC_W - DMA_W;    // the words before the last one
    localparam integer CW = $clog2(WORDS);
    localparam integer PW = $clog2(PACKET);
    localparam [CW-1:0] LAST_WORD = WORDS[CW-1:0] - 1'b1;

    // ------------------------------------------------------------ beat assembly
    reg  [CW-1:0]     word_no;
    reg  [ACC_W-1:0]  acc;         // words 0 .. WORDS-2; word 0 ends up in the low bits
    reg               beat_valid, beat_first, beat_last;
    reg  [BEAT_W-1:0] beat_data;
    reg               flush_pending;
    reg  [15:0]       partial;     // records cut short by a DMA tlast, this batch

    wire              top_s_tready;
    // Unlike a camera, the DMA can wait: no beat enters the top while its
    // records cannot leave, so back-pressure from memory never overflows the
    // top's FIFOs or ages candidates out of the history (one clock late, from
    // a register: at most one more beat's records, which the FIFOs hold).
    reg               out_stalled;
    wire              beat_go = beat_valid && !out_stalled;
    wire              beat_take = beat_go && top_s_tready;
    wire              at_last = word_no == LAST_WORD;
    // the last word is taken only when the beat register (or the flush flag) is free
    assign s_axis_tready = aresetn && (!at_last || ((!beat_valid || beat_take) && !flush_pending));
    wire              word_in = s_axis_tvalid && s_axis_tready;
    wire [REC_W-1:0]  record = {s_axis_tdata, acc};
    wire [7:0]        flags = record[BEAT_W +: 8];
    wire              end_load;    // the end record leaves this clock

    always @(posedge aclk) begin
        if (!aresetn) begin
            word_no       <= {CW{1'b0}};
            beat_valid    <= 1'b0;
            flush_pending <= 1'b0;
            partial       <= 16'd0;
        end else begin
            if (beat_take) beat_valid <= 1'b0;
            if (end_load) begin
                flush_pending <= 1'b0;
                partial       <= 16'd0;
            end
            if (word_in) begin
                acc <= {s_axis_tdata, acc[ACC_W-1:DMA_W]};
                if (at_last) begin
                    word_no <= {CW{1'b0}};
                    if (flags[7]) begin
                        flush_pending <= 1'b1;
                    end else begin
                        beat_valid <= 1'b1;
                        beat_data  <= record[BEAT_W-1:0];
                        beat_first <= flags[0];
                        beat_last  <= flags[1];
                    end
                end else if (s_axis_tlast) begin
                    word_no <= {CW{1'b0}};
                    if (partial != 16'hFFFF) partial <= partial + 16'd1;
                end else begin
                    word_no <= word_no + 1'b1;
                end
            end
        end
    end

    // -------------------------------------------------------------- the top
    wire [127:0] top_m_tdata;
    wire         top_m_tvalid, top_m_tlast;
    wire         top_m_tready;

    trigger_top #(
        .SPB(SPB), .N_BEFORE(N_BEFORE), .N_AFTER(N_AFTER), .HIST_DEPTH(HIST_DEPTH), .QUEUE_DEPTH(QUEUE_DEPTH),
        .OUT_DEPTH(OUT_DEPTH),
        .NN_LATENCY(NN_LATENCY), .NN_OUT_W(NN_OUT_W), .NN_OUT_SIGNED(NN_OUT_SIGNED), .VERSION(VERSION),
        .N_CAMERA_MODULES(N_CAMERA_MODULES)
    ) top (
        .clk(aclk), .rst_n(aresetn),
        .s_axis_tdata(beat_data), .s_axis_tuser(beat_first), .s_axis_tlast(beat_last),
        .s_axis_tvalid(beat_go), .s_axis_tready(top_s_tready),
        .m_axis_tdata(top_m_tdata), .m_axis_tlast(top_m_tlast), .m_axis_tvalid(top_m_tvalid),
        .m_axis_tready(top_m_tready),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awvalid(s_axil_awvalid), .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready), .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid),
        .s_axil_bready(s_axil_bready), .s_axil_araddr(s_axil_araddr), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready), .s_axil_rdata(top_rdata), .s_axil_rresp(s_axil_rresp),
        .s_axil_rvalid(s_axil_rvalid), .s_axil_rready(s_axil_rready)
    );

    // STATUS.busy (bit 3) of a read also says whether a beat waits here, sampled
    // at the address handshake as trigger_regs samples the top's status
    localparam [7:0] STATUS_ADDR = 8'h0C;
    wire [31:0] top_rdata;
    reg         rd_status, rd_busy;
    always @(posedge aclk) begin
        if (!aresetn) begin
            rd_status <= 1'b0;
            rd_busy   <= 1'b0;
        end else if (s_axil_arvalid && s_axil_arready) begin
            rd_status <= s_axil_araddr[7:2] == STATUS_ADDR[7:2];
            rd_busy   <= beat_valid;
        end
    end
    assign s_axil_rdata = top_rdata | {28'd0, rd_status && rd_busy, 3'd0};

    // ------------------------------------------------------ batch bookkeeping
    reg [31:0] batch_beats, batch_records;
    reg [15:0] next_window, first_window;
    always @(posedge aclk) begin
        if (!aresetn) begin
            batch_beats  <= 32'd0;
            next_window  <= 16'd0;
            first_window <= 16'd0;
        end else begin
            if (end_load) begin
                batch_beats  <= beat_take ? 32'd1 : 32'd0;
                first_window <= next_window;
            end else if (beat_take) begin
                batch_beats <= batch_beats + 32'd1;
            end
            if (beat_take && beat_first) next_window <= next_window + 16'd1;
        end
    end

    // ------------------------------------------------------------------ output
    // A register keeps each record stable while the DMA waits (AXI-Stream);
    // the top's records go first, the end record when none is left.
    reg         out_valid, out_last;
    reg [127:0] out_data;
    reg [PW-1:0] in_packet;       // records already in the current packet
    wire        out_load = !out_valid || m_axis_tready;
    assign      top_m_tready = out_load;
    wire        top_load = out_load && top_m_tvalid;
    assign      end_load = out_load && !top_m_tvalid && flush_pending;
    wire        packet_full = in_packet == PACKET[PW-1:0] - 1'b1;

    always @(posedge aclk) begin
        if (!aresetn) out_stalled <= 1'b0;
        else          out_stalled <= out_valid && !m_axis_tready;
    end

    always @(posedge aclk) begin
        if (!aresetn) begin
            out_valid     <= 1'b0;
            in_packet     <= {PW{1'b0}};
            batch_records <= 32'd0;
        end else begin
            if (out_load) out_valid <= top_load || end_load;
            if (top_load) begin
                out_data      <= top_m_tdata;
                out_last      <= packet_full;
                in_packet     <= packet_full ? {PW{1'b0}} : in_packet + 1'b1;
                batch_records <= batch_records + 32'd1;
            end else if (end_load) begin
                out_data      <= {batch_beats, first_window, next_window - first_window, batch_records,
                                  partial, 12'd0, 4'hF};
                out_last      <= 1'b1;
                in_packet     <= {PW{1'b0}};
                batch_records <= 32'd0;
            end
        end
    end
    assign m_axis_tvalid = out_valid;
    assign m_axis_tdata  = out_data;
    assign m_axis_tlast  = out_last;
    assign m_axis_tkeep  = 16'hFFFF;

    // the top's tlast marks every record, packets are cut here instead; the
    // record's padding and the spare flag bits carry nothing
    wire unused_ok = &{1'b0, top_m_tlast, record[REC_W-1:BEAT_W+8], flags[6:2]};

endmodule

`default_nettype wire
