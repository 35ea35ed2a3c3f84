// First level of the trigger on a set of modules: everything between the
// input stream and the network's input. The single top (trigger_top.v) runs it
// on the whole camera; a readout board (trigger_readout_board.v) on its own
// sector (its groups, with the modules those groups need, halo included). The
// group table comes in as parameters in the format of trigger_groups.vh (the
// camera's, or a board's from trigger_partition.vh: both GENERATED from the
// instrument's group table, never typed by hand); module and group numbers
// are local to the table.
//
//   s_axis -> S0 register -> history banks (last SPAN*HIST_DEPTH beats)
//          -> A pair sums -> B group sums -> S1 both comparators (per sample)
//          -> H  hold one beat until the next tells where the window ends
//          -> R  the beat's analog-sum mask (asum_*) and candidate mask
//          -> trigger_cand_picker: queue, pipelined picker (lowest sample,
//             then lowest group first, one a clock), issued on `credit`
//          -> G1 bank addresses -> G2 bank read -> G2b/G3 module select
//          -> G4 ROI (roi_*): the group's three modules over the ROI's samples
//
// The stages and their timing are described in trigger_top.v and
// docs/hardware.md (Timing by construction); this module is that logic moved
// out of trigger_top unchanged, so that both boards run the same RTL.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_first_level #(
    parameter integer SPB = 4,              // samples per beat
    parameter integer N_BEFORE = 10,        // ROI samples before the candidate sample
    parameter integer N_AFTER = 6,          // ROI samples from the candidate sample on
    parameter integer HIST_DEPTH = 32,      // beats per history bank (power of two)
    parameter integer HIST_BLOCK_BANKS = 1, // history banks in block RAM (the others in LUT-RAM)
    parameter integer QUEUE_DEPTH = 16,     // beats with candidates waiting (power of two)
    parameter integer BITS = 8,
    // bits a count in the history and the ROI: counts saturate at 2**HIST_BITS - 1 on the way into the
    // history (a readout board keeps only what the network sees, min(count, clip); the single top all 8)
    parameter integer HIST_BITS = BITS,
    // the group table, trigger_groups.vh's format (see there): always set by the instance from a generated
    // table (the camera's or a board's); the defaults elaborate nothing
    parameter integer N_MODULES = 0,
    parameter integer N_GROUPS = 0,
    parameter integer MODULE_BITS = 9,
    parameter integer N_COLOURS = 3,
    parameter integer CINDEX_BITS = 7,
    parameter integer COLOUR_SIZE_0 = 0,
    parameter integer COLOUR_SIZE_1 = 0,
    parameter integer COLOUR_SIZE_2 = 0,
    parameter integer N_PAIRS = 0,
    parameter integer PAIR_BITS = 8,
    parameter [N_GROUPS*3*MODULE_BITS-1:0] GROUP_TABLE = 0,
    parameter [COLOUR_SIZE_0*MODULE_BITS-1:0] COLOUR_MODULES_0 = 0,
    parameter [COLOUR_SIZE_1*MODULE_BITS-1:0] COLOUR_MODULES_1 = 0,
    parameter [COLOUR_SIZE_2*MODULE_BITS-1:0] COLOUR_MODULES_2 = 0,
    parameter [N_GROUPS*N_COLOURS*CINDEX_BITS-1:0] GROUP_CINDEX = 0,
    parameter [N_GROUPS*3*2-1:0] GROUP_SLOT_COLOUR = 0,
    parameter [N_PAIRS*2*MODULE_BITS-1:0] PAIR_TABLE = 0,
    parameter [N_GROUPS*PAIR_BITS-1:0] GROUP_PAIR = 0,
    parameter [N_GROUPS*MODULE_BITS-1:0] GROUP_THIRD = 0,
    // derived (not to be set)
    parameter integer GW = $clog2(N_GROUPS),
    parameter integer NN_IN_W = 3 * (N_BEFORE + N_AFTER) * HIST_BITS,
    parameter integer CNT_W = $clog2(SPB * N_GROUPS + 1),
    parameter integer QCW = $clog2(QUEUE_DEPTH) + 1
) (
    input  wire                        clk,
    input  wire                        rst_n,

    input  wire [SPB*N_MODULES*BITS-1:0] s_axis_tdata,  // sample j of module m at [(j*N_MODULES + m)*BITS +: BITS]
    input  wire [0:0]                  s_axis_tuser,
    input  wire                        s_axis_tlast,
    input  wire                        s_axis_tvalid,
    output wire                        s_axis_tready,

    input  wire                        nn_enable,
    input  wire                        asum_enable,
    input  wire [31:0]                 gate_threshold,
    input  wire [31:0]                 asum_threshold,
    input  wire                        credit,        // a place for one more candidate's result is free

    output wire                        event_strobe,  // a window started (S0)
    // R: a beat decided on (r_valid), with analog-sum fires in the decision range (r_asum_push)
    output reg                         r_valid,
    output reg                         r_asum_push,
    output reg  [SPB-1:0]              r_asum_mask,
    output reg  [15:0]                 r_window,
    output reg  [15:0]                 r_sample,
    output reg  [31:0]                 r_beat,
    // candidates: issued to the ROI gathering, lost (too old, queue full)
    output wire                        c_issue,
    output wire                        c_drop,
    output wire                        q_overflow,
    output wire [CNT_W-1:0]            q_lost,
    output wire [QCW-1:0]              q_count,
    // G4: a candidate's ROI (input slot*WINDOW + t = sample t of the group's slot-th module)
    output reg                         g4_valid,
    output wire [NN_IN_W-1:0]          g4_roi,
    output reg  [GW-1:0]               g4_group,
    output reg  [15:0]                 g4_window,
    output reg  [15:0]                 g4_sample,
    output reg  [31:0]                 g4_time,
    output wire                        busy           // a beat or candidate is somewhere in here
);
    localparam integer BEAT_W = SPB * N_MODULES * BITS;
    localparam integer HIST_W = SPB * N_MODULES * HIST_BITS;  // a beat in the history
    localparam integer WINDOW = N_BEFORE + N_AFTER;
    // beats a window of WINDOW samples can touch, whatever its offset in a beat;
    // one history bank per such beat, so each bank is read once per candidate
    localparam integer SPAN = (WINDOW + 2 * SPB - 2) / SPB;
    localparam integer HAW = $clog2(HIST_DEPTH);
    localparam integer CAND_W = SPB * N_GROUPS;
    localparam integer JW = (SPB > 1) ? $clog2(SPB) : 1;
    localparam integer RW = $clog2(SPAN);
    // beats the ROI reaches before / after the candidate's beat, for the worst sample
    localparam integer LOOKAHEAD = (SPB - 1 + N_AFTER - 1) / SPB;
    // beats written between the freshness check and the bank read
    localparam integer STALE_MARGIN = 2;

    // A group sum of three 8-bit counts is at most 765 < 1023: thresholds at or
    // above 1023 never fire, so 10-bit comparisons are exact.
    function automatic [9:0] clip10(input [31:0] t);
        clip10 = (|t[31:10]) ? 10'h3FF : t[9:0];
    endfunction
    wire [9:0] gate_thr = clip10(gate_threshold);
    wire [9:0] asum_thr = clip10(asum_threshold);

    // Module numbers come from the tables as localparams, not through constant
    // functions: yosys evaluates a function call per use, which made elaborating
    // the top's thousands of instances take minutes.
    // The pair table is generated separately from the group table: a group whose
    // pair and third module are not its three modules stops elaboration (the same
    // sums of first, second and third powers mean the same three numbers).
    genvar gv;
    generate
        for (gv = 0; gv < N_GROUPS; gv = gv + 1) begin : group_check
            localparam integer P = {{(32 - PAIR_BITS){1'b0}}, GROUP_PAIR[gv * PAIR_BITS +: PAIR_BITS]};
            localparam integer A = {{(32 - MODULE_BITS){1'b0}}, PAIR_TABLE[(2 * P) * MODULE_BITS +: MODULE_BITS]};
            localparam integer B = {{(32 - MODULE_BITS){1'b0}}, PAIR_TABLE[(2 * P + 1) * MODULE_BITS +: MODULE_BITS]};
            localparam integer C = {{(32 - MODULE_BITS){1'b0}}, GROUP_THIRD[gv * MODULE_BITS +: MODULE_BITS]};
            localparam integer M0 = {{(32 - MODULE_BITS){1'b0}}, GROUP_TABLE[(3 * gv) * MODULE_BITS +: MODULE_BITS]};
            localparam integer M1 = {{(32 - MODULE_BITS){1'b0}}, GROUP_TABLE[(3 * gv + 1) * MODULE_BITS +: MODULE_BITS]};
            localparam integer M2 = {{(32 - MODULE_BITS){1'b0}}, GROUP_TABLE[(3 * gv + 2) * MODULE_BITS +: MODULE_BITS]};
            if (A + B + C != M0 + M1 + M2 || A * A + B * B + C * C != M0 * M0 + M1 * M1 + M2 * M2
                || A * A * A + B * B * B + C * C * C != M0 * M0 * M0 + M1 * M1 * M1 + M2 * M2 * M2) begin : bad
                trigger_first_level_pair_table_does_not_match_the_groups unsupported_group_table ();
            end
        end
    endgenerate

    // ------------------------------------------------------------ S0: input beat
    reg running;  // one clock after reset, so tready is low throughout reset
    always @(posedge clk) running <= rst_n;
    assign s_axis_tready = running && rst_n;
    wire beat = s_axis_tvalid && s_axis_tready;

    reg        window_open;       // inside a window (tuser seen, tlast not yet)
    reg [15:0] window_no;         // number of the current window since reset
    reg [15:0] next_sample;       // sample number in the window of the next beat's sample 0, modulo 2^16
    // the window's sample number has passed 2^16 (it cannot go back below N_BEFORE): without it the
    // decision-range test would see samples 0 .. N_BEFORE-1 again every 65,536 samples of an endless window
    reg        next_wrapped;
    reg [31:0] beat_count;        // beats since reset: the time stamp is beat * SPB + j
    reg [RW-1:0]  wr_bank;        // history position of the next beat: bank (beat mod SPAN) ...
    reg [HAW-1:0] wr_addr;        // ... and address in the bank (beat / SPAN mod HIST_DEPTH)

    reg              s0_valid, s0_inwin, s0_first, s0_last, s0_wrapped;
    reg [BEAT_W-1:0] s0_data;
    reg [15:0]       s0_window, s0_sample;
    reg [31:0]       s0_beat;
    reg [RW-1:0]     s0_bank;
    reg [HAW-1:0]    s0_addr;

    wire in_first = s_axis_tuser[0];
    wire [16:0] next_sample_sum = {1'b0, in_first ? 16'd0 : next_sample} + SPB[16:0];
    always @(posedge clk) begin
        if (!rst_n) begin
            window_open <= 1'b0;
            window_no   <= 16'hFFFF;
            next_sample <= 16'd0;
            next_wrapped <= 1'b0;
            beat_count  <= 32'd0;
            wr_bank     <= {RW{1'b0}};
            wr_addr     <= {HAW{1'b0}};
            s0_valid    <= 1'b0;
        end else begin
            s0_valid <= beat;
            if (beat) begin
                s0_data   <= s_axis_tdata;
                s0_inwin  <= in_first || window_open;
                s0_first  <= in_first;
                s0_last   <= s_axis_tlast;
                s0_window <= in_first ? window_no + 16'd1 : window_no;
                s0_sample <= in_first ? 16'd0 : next_sample;
                s0_wrapped <= !in_first && next_wrapped;
                s0_beat   <= beat_count;
                s0_bank   <= wr_bank;
                s0_addr   <= wr_addr;
                window_open <= (in_first || window_open) && !s_axis_tlast;
                if (in_first) window_no <= window_no + 16'd1;
                next_sample  <= next_sample_sum[15:0];
                next_wrapped <= !in_first && (next_wrapped || next_sample_sum[16]);
                beat_count  <= beat_count + 32'd1;
                if (wr_bank == SPAN[RW-1:0] - 1'b1) begin
                    wr_bank <= {RW{1'b0}};
                    wr_addr <= wr_addr + 1'b1;
                end else begin
                    wr_bank <= wr_bank + 1'b1;
                end
            end
        end
    end
    assign event_strobe = s0_valid && s0_first;

    // newest beat in the history (beat_count - 1, valid once a beat is taken), a
    // register so that the picker's age checks start at flip-flops
    reg [31:0] newest_beat;
    always @(posedge clk) begin
        if (!rst_n)     newest_beat <= 32'hFFFF_FFFF;
        else if (beat)  newest_beat <= beat_count;
    end

    // ---------------------------------------------------- history: SPAN banks
    // Beat b lives in bank b mod SPAN at address b / SPAN: the SPAN consecutive
    // beats of one ROI are in different banks, so every bank needs one write
    // and one read port, and the history holds SPAN*HIST_DEPTH beats.
    reg [HAW-1:0]    g1_bank_addr [0:SPAN-1];
    // the banks' read registers, bank r at [r*HIST_W +: HIST_W]; vectors, not
    // arrays: yosys turns a wire array into a memory, and thousands of part
    // selects of one made elaborating the top take many minutes
    wire [SPAN*HIST_W-1:0] g2_bank_data;
    wire [HIST_W-1:0]      hist_wdata;

    genvar gb, gs;
    generate
        if (HIST_BITS > BITS) begin : hist_bits_check
            trigger_first_level_history_wider_than_the_input unsupported_parameters ();
        end
        if (HIST_BITS == BITS) begin : full
            assign hist_wdata = s_axis_tdata;
        end else begin : saturate
            // one LUT a bit: the count's high bits ORed with its own bit
            for (gs = 0; gs < SPB * N_MODULES; gs = gs + 1) begin : count
                wire [BITS-1:0] c = s_axis_tdata[gs * BITS +: BITS];
                assign hist_wdata[gs * HIST_BITS +: HIST_BITS] = (|c[BITS-1:HIST_BITS]) ? {HIST_BITS{1'b1}} : c[HIST_BITS-1:0];
            end
        end
        for (gb = 0; gb < SPAN; gb = gb + 1) begin : bank
            trigger_hist_bank #(.WIDTH(HIST_W), .DEPTH(HIST_DEPTH), .BLOCK((gb < HIST_BLOCK_BANKS) ? 1 : 0)) ram (
                .clk(clk), .we(beat && wr_bank == gb[RW-1:0]), .waddr(wr_addr), .wdata(hist_wdata),
                .raddr(g1_bank_addr[gb]), .rdata(g2_bank_data[gb * HIST_W +: HIST_W]));
        end
    endgenerate

    // ------------------------- A, B, S1: pair sums, group sums, comparators (one carry chain a stage)
    // Every stage between registers is at most 4 LUT levels and one carry chain
    // at 250 MHz (docs/hardware.md, Timing): A registers the pair sums (and the
    // beat, for the groups' third modules), B the group sums (inside
    // trigger_group_cmp), S1 the comparisons and the analog-sum OR over groups
    // of ASUM_PART (two LUT levels); H finishes the OR (ASUM_PARTS per sample).
    // A and B run every clock; their valid bits say when they hold a beat.
    localparam integer ASUM_PART = 36;
    localparam integer ASUM_PARTS = (N_GROUPS + ASUM_PART - 1) / ASUM_PART;
    // rising edges are ORed over RISE_PART groups (two LUT levels of (above, before) pairs), then over the
    // parts (one or two more), on the way into H
    localparam integer RISE_PART = 18;
    localparam integer RISE_PARTS = (N_GROUPS + RISE_PART - 1) / RISE_PART;

    reg              a_valid, b_valid;
    reg [BEAT_W-1:0] a_data;
    reg              a_inwin, a_first, a_last, a_wrapped, b_inwin, b_first, b_last, b_wrapped;
    reg [15:0]       a_window, a_sample, b_window, b_sample;
    reg [31:0]       a_beat, b_beat;
    reg [RW-1:0]     a_bank, b_bank;
    reg [HAW-1:0]    a_addr, b_addr;
    always @(posedge clk) begin
        if (!rst_n) begin
            a_valid <= 1'b0;
            b_valid <= 1'b0;
        end else begin
            a_valid <= s0_valid;
            b_valid <= a_valid;
        end
        a_data <= s0_data;
        {a_inwin, a_first, a_last, a_wrapped, a_window, a_sample, a_beat, a_bank, a_addr} <=
            {s0_inwin, s0_first, s0_last, s0_wrapped, s0_window, s0_sample, s0_beat, s0_bank, s0_addr};
        {b_inwin, b_first, b_last, b_wrapped, b_window, b_sample, b_beat, b_bank, b_addr} <=
            {a_inwin, a_first, a_last, a_wrapped, a_window, a_sample, a_beat, a_bank, a_addr};
    end

    reg [CAND_W-1:0] s1_above;
    reg [N_GROUPS-1:0] s1_prev;      // gate comparison of the sample before the beat
    reg [SPB*ASUM_PARTS-1:0] s1_asum_part;  // sample j, part k at [j*ASUM_PARTS + k]
    reg              s1_valid, s1_inwin, s1_first, s1_last;
    reg [15:0]       s1_window, s1_sample;
    reg [SPB-1:0]    s1_start_ok;    // sample base+j is at or past N_BEFORE in its window
    reg [31:0]       s1_beat;
    reg [RW-1:0]     s1_bank;
    reg [HAW-1:0]    s1_addr;
    reg [N_GROUPS-1:0] prev_above_gate;  // gate comparison of the last sample of the previous beat

    wire [CAND_W-1:0] above_gate;
    wire [CAND_W-1:0] above_asum;
    wire [SPB*ASUM_PARTS-1:0] asum_part;
    wire [SPB*9*N_PAIRS-1:0] pair_sum;  // sample j, pair p at [(j*N_PAIRS + p)*9 +: 9], registered (A)
    genvar g, j, gp, ga;
    generate
        for (j = 0; j < SPB; j = j + 1) begin : sample
            for (gp = 0; gp < N_PAIRS; gp = gp + 1) begin : pair
                localparam integer A = {{(32 - MODULE_BITS){1'b0}}, PAIR_TABLE[(2 * gp) * MODULE_BITS +: MODULE_BITS]};
                localparam integer B = {{(32 - MODULE_BITS){1'b0}}, PAIR_TABLE[(2 * gp + 1) * MODULE_BITS +: MODULE_BITS]};
                trigger_pair_sum add (
                    .clk(clk),
                    .a(s0_data[(j * N_MODULES + A) * BITS +: BITS]),
                    .b(s0_data[(j * N_MODULES + B) * BITS +: BITS]),
                    .sum(pair_sum[(j * N_PAIRS + gp) * 9 +: 9]));
            end
            for (g = 0; g < N_GROUPS; g = g + 1) begin : group
                localparam integer P = {{(32 - PAIR_BITS){1'b0}}, GROUP_PAIR[g * PAIR_BITS +: PAIR_BITS]};
                localparam integer C = {{(32 - MODULE_BITS){1'b0}}, GROUP_THIRD[g * MODULE_BITS +: MODULE_BITS]};
                trigger_group_cmp cmp (
                    .clk(clk),
                    .pair(pair_sum[(j * N_PAIRS + P) * 9 +: 9]),
                    .c(a_data[(j * N_MODULES + C) * BITS +: BITS]),
                    .gate_thr(gate_thr), .asum_thr(asum_thr),
                    .above_gate(above_gate[j * N_GROUPS + g]), .above_asum(above_asum[j * N_GROUPS + g]));
            end
            for (ga = 0; ga < ASUM_PARTS; ga = ga + 1) begin : asum_or
                localparam integer LO = ga * ASUM_PART;
                localparam integer N = (LO + ASUM_PART <= N_GROUPS) ? ASUM_PART : N_GROUPS - LO;
                assign asum_part[j * ASUM_PARTS + ga] = |above_asum[j * N_GROUPS + LO +: N];
            end
        end
    endgenerate

    integer js;
    always @(posedge clk) begin
        if (!rst_n) begin
            s1_valid <= 1'b0;
            prev_above_gate <= {N_GROUPS{1'b1}};
        end else begin
            s1_valid <= b_valid;
            if (b_valid) begin
                s1_above     <= above_gate;
                s1_prev      <= prev_above_gate;
                s1_asum_part <= asum_part;
                s1_inwin  <= b_inwin;
                s1_first  <= b_first;
                s1_last   <= b_last;
                s1_window <= b_window;
                s1_sample <= b_sample;
                for (js = 0; js < SPB; js = js + 1)
                    // b_sample + js >= N_BEFORE, against a constant: one carry chain, not an adder and then a compare
                    s1_start_ok[js] <= b_wrapped || js >= N_BEFORE || {16'd0, b_sample} >= N_BEFORE - js;
                s1_beat   <= b_beat;
                s1_bank   <= b_bank;
                s1_addr   <= b_addr;
                prev_above_gate <= above_gate[CAND_W-1 -: N_GROUPS];
            end
        end
    end

    // ------------------------- H: hold a beat until the next shows where the window ends
    // A sample's ROI reaches at most LOOKAHEAD beats ahead; with LOOKAHEAD <= 2
    // the next beat settles it: the window goes on past this beat when this
    // beat is not its last and the next does not start a new one, and past the
    // next beat when, in addition, the next is not the last. H also finishes
    // the analog-sum OR and ORs the rising edges over RISE_PART groups, so that
    // the decision stage R below is a few LUTs.
    reg [CAND_W-1:0] h_above;
    reg [N_GROUPS-1:0] h_prev;
    reg [SPB-1:0]    h_asum;
    reg [SPB-1:0]    h_start_ok;
    // what R's push decisions need of this beat, registered here so that R adds only what the next beat
    // tells (s1_first, s1_last): sample j has a rising group / an analog-sum fire, is in its window and past
    // N_BEFORE, and its ROI does not run past this beat's end of window (in_range's part known at H)
    reg [SPB-1:0]    h_cand_pre, h_asum_pre;
    reg              h_valid, h_inwin, h_last;
    reg [15:0]       h_window, h_sample;
    reg [31:0]       h_beat;
    reg [RW-1:0]     h_bank;
    reg [HAW-1:0]    h_addr;

    // each sample's comparison at the sample before it
    wire [CAND_W-1:0] s1_before = {s1_above[CAND_W-N_GROUPS-1:0], s1_prev};
    wire [CAND_W-1:0] s1_rise = s1_above & ~s1_before;
    (* keep *) wire [SPB*RISE_PARTS-1:0] rise_part;  // kept: the OR over the parts below stays a tree
    wire [SPB-1:0] asum_any, rise_any, pre_ok;
    genvar jh, kh;
    generate
        for (jh = 0; jh < SPB; jh = jh + 1) begin : hold_or
            localparam integer REACH = (jh + N_AFTER - 1) / SPB;  // beats after this one the ROI reaches
            assign asum_any[jh] = |s1_asum_part[jh * ASUM_PARTS +: ASUM_PARTS];
            assign rise_any[jh] = |rise_part[jh * RISE_PARTS +: RISE_PARTS];
            assign pre_ok[jh]   = s1_inwin && s1_start_ok[jh] && (REACH == 0 || !s1_last);
            for (kh = 0; kh < RISE_PARTS; kh = kh + 1) begin : rise
                localparam integer LO = kh * RISE_PART;
                localparam integer N = (LO + RISE_PART <= N_GROUPS) ? RISE_PART : N_GROUPS - LO;
                // three groups' (above, before) pairs a LUT, kept: yosys otherwise chains the 36-input OR
                (* keep *) wire [(N+2)/3-1:0] rise3;
                genvar r3;
                for (r3 = 0; r3 < (N + 2) / 3; r3 = r3 + 1) begin : by3
                    localparam integer N3 = (3 * r3 + 3 <= N) ? 3 : N - 3 * r3;
                    assign rise3[r3] = |s1_rise[jh * N_GROUPS + LO + 3 * r3 +: N3];
                end
                assign rise_part[jh * RISE_PARTS + kh] = |rise3;
            end
        end
    endgenerate

    wire cont1 = !h_last && !s1_first;
    wire cont2 = cont1 && !s1_last;
    // the hold stage looks one beat ahead: enough while the ROI reaches at most 2 beats on
    generate
        if (N_MODULES == 0 || N_GROUPS == 0 || N_PAIRS == 0) begin : table_check
            trigger_first_level_needs_a_group_table unsupported_parameters ();
        end
        if (LOOKAHEAD > 2) begin : lookahead_check
            trigger_first_level_needs_roi_within_two_beats_ahead unsupported_parameters ();
        end
    endgenerate
    reg  [SPB-1:0] in_range;
    integer jr;
    always @(*) begin
        for (jr = 0; jr < SPB; jr = jr + 1) begin
            in_range[jr] = h_inwin && h_start_ok[jr]
                && (((jr + N_AFTER - 1) / SPB == 0) || (((jr + N_AFTER - 1) / SPB == 1) ? cont1 : cont2));
        end
    end
    wire finalize = h_valid && s1_valid;

    always @(posedge clk) begin
        if (!rst_n) begin
            h_valid <= 1'b0;
        end else if (s1_valid) begin
            h_valid  <= 1'b1;
            h_above  <= s1_above;
            h_prev   <= s1_prev;
            h_asum   <= asum_any;
            h_cand_pre <= rise_any & pre_ok;
            h_asum_pre <= asum_any & pre_ok;
            h_start_ok <= s1_start_ok;
            h_inwin  <= s1_inwin;
            h_last   <= s1_last;
            h_window <= s1_window;
            h_sample <= s1_sample;
            h_beat   <= s1_beat;
            h_bank   <= s1_bank;
            h_addr   <= s1_addr;
        end
    end

    // ------------------------------ R: the beat's decisions, registered before the FIFO and the queue
    wire [CAND_W-1:0] h_before = {h_above[CAND_W-N_GROUPS-1:0], h_prev};
    reg [CAND_W-1:0] cand_mask;
    reg [SPB-1:0]    next_ok;
    integer jm;
    always @(*) begin
        for (jm = 0; jm < SPB; jm = jm + 1) begin
            // sample j rises where it is above the gate and sample j-1 was not
            cand_mask[jm * N_GROUPS +: N_GROUPS] = h_above[jm * N_GROUPS +: N_GROUPS]
                                                   & ~h_before[jm * N_GROUPS +: N_GROUPS]
                                                   & {N_GROUPS{in_range[jm] && nn_enable}};
            // in_range[jm] is h_cand_pre's part of it and next_ok[jm]
            next_ok[jm] = ((jm + N_AFTER - 1) / SPB == 0) || (((jm + N_AFTER - 1) / SPB == 1) ? !s1_first
                                                                                          : !s1_first && !s1_last);
        end
    end
    wire [SPB-1:0] asum_mask = h_asum & in_range & {SPB{asum_enable}};
    // the pushes from H's pre-terms (2 LUT levels; from in_range and the 474-group ORs it was 5)
    wire cand_go = |(h_cand_pre & next_ok) && nn_enable;
    wire asum_go = |(h_asum_pre & next_ok) && asum_enable;

    reg              r_q_push;
    reg [CAND_W-1:0] r_cand_mask;
    reg [RW-1:0]     r_bank;
    reg [HAW-1:0]    r_addr;
    always @(posedge clk) begin
        if (!rst_n) begin
            r_valid     <= 1'b0;
            r_asum_push <= 1'b0;
            r_q_push    <= 1'b0;
        end else begin
            r_valid     <= finalize;
            r_asum_push <= finalize && asum_go;
            r_q_push    <= finalize && cand_go;
        end
        r_asum_mask <= asum_mask;
        r_cand_mask <= cand_mask;
        r_window <= h_window;  r_sample <= h_sample;  r_beat <= h_beat;  r_bank <= h_bank;  r_addr <= h_addr;
    end

    // ------------------------------------- candidate queue and picker (pipelined)
    wire           q_push = r_q_push;
    wire           picker_busy;
    wire [GW-1:0]  c_group;
    wire [JW-1:0]  c_offset;
    wire [RW-1:0]  c_first_bank;
    wire [HAW-1:0] c_first_addr;
    wire [15:0]    c_window, c_sample;
    wire [31:0]    c_time;


    trigger_cand_picker #(
        .SPB(SPB), .N_GROUPS(N_GROUPS), .N_BEFORE(N_BEFORE), .N_AFTER(N_AFTER), .SPAN(SPAN),
        .HIST_DEPTH(HIST_DEPTH), .QUEUE_DEPTH(QUEUE_DEPTH), .STALE_MARGIN(STALE_MARGIN)
    ) picker (
        .clk(clk), .rst_n(rst_n),
        .push(q_push), .push_mask(r_cand_mask), .push_beat(r_beat), .push_bank(r_bank), .push_addr(r_addr),
        .push_window(r_window), .push_sample(r_sample),
        .newest_beat(newest_beat), .credit(credit),
        .issue(c_issue), .drop(c_drop), .cand_group(c_group), .cand_offset(c_offset),
        .cand_first_bank(c_first_bank), .cand_first_addr(c_first_addr), .cand_window(c_window),
        .cand_sample(c_sample), .cand_time(c_time),
        .overflow(q_overflow), .lost(q_lost), .queue_count(q_count), .busy(picker_busy));

    // -------------------------------- G1: where the ROI's beats are in the banks
    reg            g1_valid;
    reg [GW-1:0]   g1_group;
    reg [JW-1:0]   g1_offset;     // sample of the ROI's first sample within its first beat
    reg [RW-1:0]   g1_first_bank; // bank of the ROI's first beat
    reg [15:0]     g1_window, g1_sample;
    reg [31:0]     g1_time;

    integer rb;
    always @(posedge clk) begin
        if (!rst_n) begin
            g1_valid <= 1'b0;
        end else begin
            g1_valid <= c_issue;
            if (c_issue) begin
                g1_group      <= c_group;
                g1_offset     <= c_offset;
                g1_first_bank <= c_first_bank;
                g1_window     <= c_window;
                g1_sample     <= c_sample;
                g1_time       <= c_time;
                // banks below the first beat's hold the later beats, one address on
                for (rb = 0; rb < SPAN; rb = rb + 1)
                    g1_bank_addr[rb] <= (rb < c_first_bank) ? c_first_addr + 1'b1 : c_first_addr;
            end
        end
    end

    // ---------------------------------------- G2: bank outputs (read above), G3: modules
    // G2b: the module select is two registered steps (trigger_word_mux), so one more stage here
    reg            g2_valid, g2b_valid, g3_valid;
    reg [GW-1:0]   g2_group, g2b_group, g3_group;
    reg [JW-1:0]   g2_offset, g2b_offset;
    reg [RW-1:0]   g2_first_bank, g2b_first_bank;
    reg [15:0]     g2_window, g2_sample, g2b_window, g2b_sample, g3_window, g3_sample;
    reg [31:0]     g2_time, g2b_time, g3_time;
    reg [5:0]      g2b_slot_colour;

    // The group's module of colour c is word g2_cindex[c] of colour class c in
    // each bank's beat (a 90-to-1 selection instead of N_MODULES-to-1); the slot
    // (module order) is that module's colour, both looked up during the bank read.
    reg [CINDEX_BITS-1:0] g2_cindex [0:N_COLOURS-1];
    reg [1:0]             g2_slot_colour [0:2];
    // both per group in one ROM (474 words): a variable part-select of the
    // packed tables would be a 10k-bit shifter
    localparam integer ROM_W = N_COLOURS * CINDEX_BITS + 3 * 2;
    reg [ROM_W-1:0] group_rom [0:N_GROUPS-1];
    integer gi;
    initial
        for (gi = 0; gi < N_GROUPS; gi = gi + 1)
            group_rom[gi] = {GROUP_SLOT_COLOUR[3 * 2 * gi +: 3 * 2], GROUP_CINDEX[N_COLOURS * CINDEX_BITS * gi +: N_COLOURS * CINDEX_BITS]};
    wire [ROM_W-1:0] g1_rom = group_rom[g1_group];
    localparam integer WORD_W = SPB * HIST_BITS;  // one module's SPB samples of one beat
    wire [N_COLOURS*SPAN*WORD_W-1:0] colour_words;  // word (colour c, bank r) at (c*SPAN + r)*WORD_W

    // the three classes one after the other
    localparam [(COLOUR_SIZE_0 + COLOUR_SIZE_1 + COLOUR_SIZE_2)*MODULE_BITS-1:0] COLOUR_MODULES =
        {COLOUR_MODULES_2, COLOUR_MODULES_1, COLOUR_MODULES_0};
    genvar gc, gr, gk, gj;
    generate
        for (gc = 0; gc < N_COLOURS; gc = gc + 1) begin : colour
            localparam integer NC = (gc == 0) ? COLOUR_SIZE_0 : (gc == 1) ? COLOUR_SIZE_1 : COLOUR_SIZE_2;
            localparam integer COLOUR_BASE = (gc == 0) ? 0 : (gc == 1) ? COLOUR_SIZE_0 : COLOUR_SIZE_0 + COLOUR_SIZE_1;
            for (gr = 0; gr < SPAN; gr = gr + 1) begin : bank
                wire [NC*WORD_W-1:0] words;
                for (gk = 0; gk < NC; gk = gk + 1) begin : word
                    localparam integer M = {{(32 - MODULE_BITS){1'b0}},
                                            COLOUR_MODULES[(COLOUR_BASE + gk) * MODULE_BITS +: MODULE_BITS]};
                    for (gj = 0; gj < SPB; gj = gj + 1) begin : smp
                        assign words[(gk * SPB + gj) * HIST_BITS +: HIST_BITS] =
                            g2_bank_data[gr * HIST_W + (gj * N_MODULES + M) * HIST_BITS +: HIST_BITS];
                    end
                end
                trigger_word_mux #(.N(NC), .W(WORD_W), .SW(CINDEX_BITS)) select (
                    .clk(clk), .words(words), .sel(g2_cindex[gc]), .word(colour_words[(gc * SPAN + gr) * WORD_W +: WORD_W]));
            end
        end
    endgenerate

    integer s3, c2;
    always @(posedge clk) begin
        if (!rst_n) begin
            g2_valid <= 1'b0;
            g2b_valid <= 1'b0;
            g3_valid <= 1'b0;
        end else begin
            g2_valid <= g1_valid;
            g2b_valid <= g2_valid;
            g3_valid <= g2b_valid;
        end
        g2_group <= g1_group;  g2_offset <= g1_offset;  g2_first_bank <= g1_first_bank;
        g2_window <= g1_window;  g2_sample <= g1_sample;  g2_time <= g1_time;
        for (c2 = 0; c2 < N_COLOURS; c2 = c2 + 1)
            g2_cindex[c2] <= g1_rom[c2 * CINDEX_BITS +: CINDEX_BITS];
        for (s3 = 0; s3 < 3; s3 = s3 + 1)
            g2_slot_colour[s3] <= g1_rom[N_COLOURS * CINDEX_BITS + s3 * 2 +: 2];
        g2b_group <= g2_group;  g2b_offset <= g2_offset;  g2b_first_bank <= g2_first_bank;
        g2b_window <= g2_window;  g2b_sample <= g2_sample;  g2b_time <= g2_time;
        g2b_slot_colour <= {g2_slot_colour[2], g2_slot_colour[1], g2_slot_colour[0]};
        g3_group <= g2b_group;  g3_window <= g2b_window;  g3_sample <= g2b_sample;  g3_time <= g2b_time;
    end

    // ------------------------- G3, G4: the ROI in the network's order (trigger_roi_window)
    trigger_roi_window #(.SPB(SPB), .SPAN(SPAN), .WINDOW(WINDOW), .N_COLOURS(N_COLOURS), .BITS(HIST_BITS)) window (
        .clk(clk), .colour_words(colour_words),
        .slot_colour(g2b_slot_colour), .offset(g2b_offset), .first_bank(g2b_first_bank), .roi(g4_roi));
    always @(posedge clk) begin
        if (!rst_n) g4_valid <= 1'b0;
        else        g4_valid <= g3_valid;
        g4_group <= g3_group;  g4_window <= g3_window;  g4_sample <= g3_sample;  g4_time <= g3_time;
    end

    assign busy = s0_valid || a_valid || b_valid || s1_valid || r_asum_push || r_q_push || picker_busy;

    // a_data keeps only the modules that are some group's third (synthesis drops the other registers)
    wire unused_ok = &{1'b0, a_data};

endmodule

`default_nettype wire
