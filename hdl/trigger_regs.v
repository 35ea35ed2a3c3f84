// AXI4-Lite register block of the LST trigger: identification, enables,
// decision thresholds and event counters.
//
// Register map (byte addresses, 32-bit registers):
//   0x00 ID            RO  "LSTT" (0x4C535454)
//   0x04 VERSION       RO  parameter VERSION (major << 16 | minor)
//   0x08 CONTROL       RW  bit 0 nn_enable, bit 1 asum_enable;
//                          bit 8 clear counters (write 1; reads 0)
//   0x0C STATUS        RO  status_in (from the trigger core)
//   0x10 NN_THRESHOLD  RW  signed, in units of the network output LSB
//   0x14 ASUM_THRESHOLD RW unsigned analog-sum threshold, counts
//   0x18 SCRATCH       RW  free for software (bus tests)
//   0x1C GATE_THRESHOLD RW unsigned gate threshold of the NN candidates, counts
//   0x20 NN_COUNT      RO  NN trigger decisions     } saturating at 2^32-1,
//   0x24 ASUM_COUNT    RO  analog-sum decisions     } cleared by CONTROL bit 8
//   0x28 WINDOW_COUNT  RO  windows processed        } and by reset
//   0x2C DROP_COUNT    RO  decisions lost to back-pressure
//   0x30 CAND_DROP_COUNT RO candidates lost (queue full or ROI too old)
//   0x34 EVENT_COUNT   RO  event windows started
// Other addresses answer SLVERR (reads return 0); writes to RO registers are
// ignored with OKAY, so a read-modify-write of the whole map is harmless.
//
// After reset both enables are 0 and the thresholds are their parameters'
// values: nothing triggers until software configures the block.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_regs #(
    parameter [31:0] VERSION = 32'h0001_0000,
    parameter [31:0] NN_THRESHOLD_RESET = 32'h7FFF_FFFF,
    parameter [31:0] ASUM_THRESHOLD_RESET = 32'hFFFF_FFFF,
    parameter [31:0] GATE_THRESHOLD_RESET = 32'hFFFF_FFFF
) (
    input  wire        clk,
    input  wire        rst_n,

    // AXI4-Lite slave (no PROT: every access is treated alike)
    input  wire [7:0]  s_axil_awaddr,
    input  wire        s_axil_awvalid,
    output wire        s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [3:0]  s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output wire        s_axil_wready,
    output reg  [1:0]  s_axil_bresp,
    output reg         s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire [7:0]  s_axil_araddr,
    input  wire        s_axil_arvalid,
    output wire        s_axil_arready,
    output reg  [31:0] s_axil_rdata,
    output reg  [1:0]  s_axil_rresp,
    output reg         s_axil_rvalid,
    input  wire        s_axil_rready,

    // to the trigger core
    output reg         nn_enable,
    output reg         asum_enable,
    output reg  [31:0] nn_threshold,
    output reg  [31:0] asum_threshold,
    output reg  [31:0] gate_threshold,

    // from the trigger core: one-cycle increment strobes and status bits
    input  wire        nn_decision,
    input  wire        asum_decision,
    input  wire        window_done,
    input  wire        decision_dropped,
    input  wire        event_start,
    input  wire [15:0] cand_dropped,   // candidates lost this clock (a count, not a strobe)
    input  wire [31:0] status_in
);

    localparam [31:0] ID = 32'h4C53_5454;  // "LSTT"
    localparam [1:0] OKAY = 2'b00, SLVERR = 2'b10;

    localparam [5:0] A_ID = 6'h00, A_VERSION = 6'h01, A_CONTROL = 6'h02, A_STATUS = 6'h03,
                     A_NN_THR = 6'h04, A_ASUM_THR = 6'h05, A_SCRATCH = 6'h06, A_GATE_THR = 6'h07,
                     A_NN_COUNT = 6'h08, A_ASUM_COUNT = 6'h09, A_WINDOW_COUNT = 6'h0A, A_DROP_COUNT = 6'h0B,
                     A_CAND_DROP_COUNT = 6'h0C, A_EVENT_COUNT = 6'h0D;

    reg [31:0] scratch;
    reg [31:0] nn_count, asum_count, window_count, drop_count, cand_drop_count, event_count;

    // ---------------------------------------------------------------- writes
    // Address and data are taken together, one write per response: simple,
    // and a master that presents them apart just waits for the other.
    wire write_fire = s_axil_awvalid && s_axil_wvalid && !s_axil_bvalid;
    assign s_axil_awready = write_fire;
    assign s_axil_wready  = write_fire;
    wire [5:0] waddr = s_axil_awaddr[7:2];

    function automatic [31:0] apply_strobes(input [31:0] old, input [31:0] data, input [3:0] strb);
        integer b;
        begin
            apply_strobes = old;
            for (b = 0; b < 4; b = b + 1)
                if (strb[b]) apply_strobes[8*b +: 8] = data[8*b +: 8];
        end
    endfunction

    function automatic writable_or_readonly(input [5:0] a);
        begin
            case (a)
                A_ID, A_VERSION, A_CONTROL, A_STATUS, A_NN_THR, A_ASUM_THR, A_SCRATCH, A_GATE_THR,
                A_NN_COUNT, A_ASUM_COUNT, A_WINDOW_COUNT, A_DROP_COUNT, A_CAND_DROP_COUNT,
                A_EVENT_COUNT: writable_or_readonly = 1'b1;
                default: writable_or_readonly = 1'b0;
            endcase
        end
    endfunction

    wire clear_counters = write_fire && waddr == A_CONTROL && s_axil_wstrb[1] && s_axil_wdata[8];

    always @(posedge clk) begin
        if (!rst_n) begin
            nn_enable      <= 1'b0;
            asum_enable    <= 1'b0;
            nn_threshold   <= NN_THRESHOLD_RESET;
            asum_threshold <= ASUM_THRESHOLD_RESET;
            gate_threshold <= GATE_THRESHOLD_RESET;
            scratch        <= 32'd0;
            s_axil_bvalid  <= 1'b0;
            s_axil_bresp   <= OKAY;
        end else begin
            if (s_axil_bvalid && s_axil_bready)
                s_axil_bvalid <= 1'b0;
            if (write_fire) begin
                case (waddr)
                    A_CONTROL: if (s_axil_wstrb[0]) begin
                        nn_enable   <= s_axil_wdata[0];
                        asum_enable <= s_axil_wdata[1];
                    end
                    A_NN_THR:   nn_threshold   <= apply_strobes(nn_threshold, s_axil_wdata, s_axil_wstrb);
                    A_ASUM_THR: asum_threshold <= apply_strobes(asum_threshold, s_axil_wdata, s_axil_wstrb);
                    A_SCRATCH:  scratch        <= apply_strobes(scratch, s_axil_wdata, s_axil_wstrb);
                    A_GATE_THR: gate_threshold <= apply_strobes(gate_threshold, s_axil_wdata, s_axil_wstrb);
                    default: ;
                endcase
                s_axil_bvalid <= 1'b1;
                s_axil_bresp  <= writable_or_readonly(waddr) ? OKAY : SLVERR;
            end
        end
    end

    // -------------------------------------------------------------- counters
    // Saturating, so a rate computed from a long run is never silently wrapped.
    function automatic [31:0] bump(input [31:0] count, input inc);
        begin
            bump = (inc && count != 32'hFFFF_FFFF) ? count + 32'd1 : count;
        end
    endfunction

    function automatic [31:0] add_saturating(input [31:0] count, input [15:0] inc);
        reg [32:0] sum;
        begin
            sum = {1'b0, count} + {17'd0, inc};
            add_saturating = sum[32] ? 32'hFFFF_FFFF : sum[31:0];
        end
    endfunction

    always @(posedge clk) begin
        if (!rst_n || clear_counters) begin
            nn_count     <= 32'd0;
            asum_count   <= 32'd0;
            window_count <= 32'd0;
            drop_count   <= 32'd0;
            cand_drop_count <= 32'd0;
            event_count  <= 32'd0;
        end else begin
            nn_count     <= bump(nn_count, nn_decision);
            asum_count   <= bump(asum_count, asum_decision);
            window_count <= bump(window_count, window_done);
            drop_count   <= bump(drop_count, decision_dropped);
            cand_drop_count <= add_saturating(cand_drop_count, cand_dropped);
            event_count  <= bump(event_count, event_start);
        end
    end

    // ----------------------------------------------------------------- reads
    assign s_axil_arready = !s_axil_rvalid;
    wire [5:0] raddr = s_axil_araddr[7:2];

    always @(posedge clk) begin
        if (!rst_n) begin
            s_axil_rvalid <= 1'b0;
            s_axil_rdata  <= 32'd0;
            s_axil_rresp  <= OKAY;
        end else begin
            if (s_axil_rvalid && s_axil_rready)
                s_axil_rvalid <= 1'b0;
            if (s_axil_arvalid && s_axil_arready) begin
                s_axil_rvalid <= 1'b1;
                s_axil_rresp  <= OKAY;
                case (raddr)
                    A_ID:           s_axil_rdata <= ID;
                    A_VERSION:      s_axil_rdata <= VERSION;
                    A_CONTROL:      s_axil_rdata <= {30'd0, asum_enable, nn_enable};
                    A_STATUS:       s_axil_rdata <= status_in;
                    A_NN_THR:       s_axil_rdata <= nn_threshold;
                    A_ASUM_THR:     s_axil_rdata <= asum_threshold;
                    A_SCRATCH:      s_axil_rdata <= scratch;
                    A_GATE_THR:     s_axil_rdata <= gate_threshold;
                    A_NN_COUNT:     s_axil_rdata <= nn_count;
                    A_ASUM_COUNT:   s_axil_rdata <= asum_count;
                    A_WINDOW_COUNT: s_axil_rdata <= window_count;
                    A_DROP_COUNT:   s_axil_rdata <= drop_count;
                    A_CAND_DROP_COUNT: s_axil_rdata <= cand_drop_count;
                    A_EVENT_COUNT:  s_axil_rdata <= event_count;
                    default: begin
                        s_axil_rdata <= 32'd0;
                        s_axil_rresp <= SLVERR;
                    end
                endcase
            end
        end
    end

    // the two low address bits select bytes within a register: unused
    wire unused_ok = &{1'b0, s_axil_awaddr[1:0], s_axil_araddr[1:0]};

endmodule

`default_nettype wire
