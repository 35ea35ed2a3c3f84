// Candidate queue and picker of the trigger top (trigger_top.v): beats with
// gate candidates in, one candidate a clock out, in the golden model's order
// (beat, then sample, then group), each checked against the history just
// before it is issued. A module of its own so that its logic is synthesized
// and counted on its own (docs/hardware.md, Resources).
//
// A single-clock search of the lowest of 1896 candidate bits, its one-hot
// clear and the queue pop would be some 15-20 logic levels: far from 4 ns.
// Here each clock does one short step:
//
//   queue     beats with candidates: mask, per-chunk any flags (the mask cut
//             into 32-bit chunks, SPB x ceil(N_GROUPS/32) of them, a chunk never
//             straddles two samples), where the beat is
//   feeder    F: lowest set any flag of the held beat (60-bit carry chain),
//             its chunk through a one-hot AND-OR -> chunk FIFO; the next beat is
//             popped the clock after the last flag went (one idle clock a beat)
//   serializer S: lowest set bit of the held chunk (32-bit carry chain) ->
//             candidate (sample, group = chunk * 32 + bit); the next chunk is
//             loaded with the last bit, which a register tells (s_one: at most
//             one bit left; the queue carries each chunk's flag, trigger_at_most)
//   P         ROI arithmetic of the candidate (first/last beat, bank, offset)
//             -> candidate FIFO
//   C         the candidate at the head: issued when its beats have all
//             arrived and a result place is free (credit), dropped when its
//             oldest beat may leave the history before the read
//
// Every stage decides from its own registers and the occupancy of the FIFO
// after it, so no combinational path crosses two stages; each stage moves one
// chunk/candidate a clock, so a burst still leaves at one candidate a clock.
// Queue overflow is seen at the push (STATUS at once); the number of
// candidates lost with it is a pipelined population count that reaches
// CAND_DROP_COUNT LOST_LATENCY (= 2 + log2 of the 6-bit slices) clocks later.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_cand_picker #(
    parameter integer SPB = 4,
    parameter integer N_GROUPS = 474,
    parameter integer N_BEFORE = 10,
    parameter integer N_AFTER = 6,
    parameter integer SPAN = 5,             // history banks
    parameter integer HIST_DEPTH = 32,      // beats per bank
    parameter integer QUEUE_DEPTH = 16,
    parameter integer STALE_MARGIN = 2,     // beats written between the freshness check and the bank read
    parameter integer GW = $clog2(N_GROUPS),
    parameter integer JW = (SPB > 1) ? $clog2(SPB) : 1,
    parameter integer RW = $clog2(SPAN),
    parameter integer HAW = $clog2(HIST_DEPTH),
    parameter integer CNT_W = $clog2(SPB * N_GROUPS + 1),
    parameter integer QCW = $clog2(QUEUE_DEPTH) + 1
) (
    input  wire                    clk,
    input  wire                    rst_n,

    // a beat with candidates (push only with a non-zero mask)
    input  wire                    push,
    input  wire [SPB*N_GROUPS-1:0] push_mask,   // bit j*N_GROUPS + g: group g rises at sample j
    input  wire [31:0]             push_beat,   // beat number since reset
    input  wire [RW-1:0]           push_bank,   // where the beat is in the history
    input  wire [HAW-1:0]          push_addr,
    input  wire [15:0]             push_window,
    input  wire [15:0]             push_sample, // sample number in the window of the beat's sample 0

    input  wire [31:0]             newest_beat, // the newest beat in the history
    input  wire                    credit,      // a result place is free

    output wire                    issue,       // the candidate below goes to the ROI gathering
    output wire                    drop,        // the candidate at the head is lost (too old)
    output wire [GW-1:0]           cand_group,
    output wire [JW-1:0]           cand_offset,     // sample of the ROI's first sample in its first beat
    output wire [RW-1:0]           cand_first_bank, // bank and address of the ROI's first beat
    output wire [HAW-1:0]          cand_first_addr,
    output wire [15:0]             cand_window,
    output wire [15:0]             cand_sample,     // sample number in the window
    output wire [31:0]             cand_time,       // sample number since reset

    output wire                    overflow,    // push into a full queue (this clock)
    output reg  [CNT_W-1:0]        lost,        // candidates lost to overflows, LOST_LATENCY clocks later
    output wire [QCW-1:0]          queue_count,
    output wire                    busy
);
    localparam integer CAND_W = SPB * N_GROUPS;
    localparam integer CHUNK = 32;
    localparam integer BW = 5;                              // bit in a chunk
    localparam integer K = (N_GROUPS + CHUNK - 1) / CHUNK;  // chunks per sample
    localparam integer KW = (K > 1) ? $clog2(K) : 1;
    localparam integer N_CH = SPB * K;
    localparam integer META_W = 32 + RW + HAW + 16 + 16;
    localparam integer HIST_BEATS = SPAN * HIST_DEPTH;
    localparam integer FIFO_DEPTH = 4;                      // chunk and candidate FIFOs
    localparam integer FCW = $clog2(FIFO_DEPTH) + 1;

    // chunk c of a mask: sample c / K, groups (c mod K) * 32 .. + 31 (zero beyond N_GROUPS)
    function automatic [CHUNK-1:0] chunk_of(input [CAND_W-1:0] mask, input integer c);
        integer b, g;
        begin
            chunk_of = {CHUNK{1'b0}};
            for (b = 0; b < CHUNK; b = b + 1) begin
                g = (c % K) * CHUNK + b;
                if (g < N_GROUPS) chunk_of[b] = mask[(c / K) * N_GROUPS + g];
            end
        end
    endfunction

    // ------------------------------------------------------------ beat queue
    reg  [CAND_W-1:0] f_mask;
    wire [CHUNK-1:0]  push_chunk [0:N_CH-1];
    wire [CHUNK-1:0]  f_chunks [0:N_CH-1];
    wire [N_CH-1:0]   push_any;
    wire [N_CH-1:0]   push_one;   // chunk c has at most one candidate (S pops the next chunk with its last)
    reg  [N_CH-1:0]   f_one;
    genvar gc;
    generate
        for (gc = 0; gc < N_CH; gc = gc + 1) begin : chunk
            assign push_chunk[gc] = chunk_of(push_mask, gc);
            assign f_chunks[gc]   = chunk_of(f_mask, gc);
            assign push_any[gc]   = |push_chunk[gc];
            trigger_at_most #(.W(CHUNK), .K(1)) one (.x(push_chunk[gc]), .y(push_one[gc]));
        end
    endgenerate

    wire                          q_empty, q_full;
    wire [CAND_W+2*N_CH+META_W-1:0] q_head;
    wire                          q_pop;
    trigger_fifo #(.WIDTH(CAND_W + 2 * N_CH + META_W), .DEPTH(QUEUE_DEPTH)) queue (
        .clk(clk), .rst_n(rst_n), .push(push),
        .wr_data({push_mask, push_one, push_any, push_beat, push_bank, push_addr, push_window, push_sample}),
        .pop(q_pop), .rd_data(q_head), .empty(q_empty), .full(q_full), .count(queue_count));
    assign overflow = push && q_full;

    // ------------------------------------------------- F: one chunk a clock
    reg              f_valid;
    reg [N_CH-1:0]   f_any;
    reg [META_W-1:0] f_meta;

    wire [N_CH-1:0] f_rest = f_any & (f_any - 1'b1);  // lowest flag cleared
    // the lowest flag alone (one LUT after the carry chain, kept), and what it selects through AND-OR trees:
    // its chunk, the chunk's one-candidate flag, its sample and chunk number (yosys' mapping had chained the
    // OR over the chunks: 5 LUT levels after the chain)
    (* keep *) wire [N_CH-1:0] f_low = f_any ^ f_rest;
    wire [CHUNK-1:0] f_chunk;
    wire             f_chunk_one;
    wire [JW-1:0]    f_j;
    wire [KW-1:0]    f_k;
    trigger_or_and_tree #(.W(N_CH)) sel_one (.x(f_low), .m(f_one), .y(f_chunk_one));
    genvar gf, gs;
    generate
        for (gf = 0; gf < CHUNK; gf = gf + 1) begin : sel_bit
            wire [N_CH-1:0] column;  // bit gf of every chunk
            for (gs = 0; gs < N_CH; gs = gs + 1) begin : chunk_bit
                assign column[gs] = f_chunks[gs][gf];
            end
            trigger_or_and_tree #(.W(N_CH)) sel (.x(f_low), .m(column), .y(f_chunk[gf]));
        end
        for (gf = 0; gf < JW; gf = gf + 1) begin : sel_j
            wire [N_CH-1:0] has;     // chunks whose sample number has bit gf set
            for (gs = 0; gs < N_CH; gs = gs + 1) begin : chunk_j_bit
                assign has[gs] = (((gs / K) >> gf) & 1) != 0;
            end
            trigger_or_and_tree #(.W(N_CH)) sel (.x(f_low), .m(has), .y(f_j[gf]));
        end
        for (gf = 0; gf < KW; gf = gf + 1) begin : sel_k
            wire [N_CH-1:0] has;     // chunks whose chunk number in the sample has bit gf set
            for (gs = 0; gs < N_CH; gs = gs + 1) begin : chunk_k_bit
                assign has[gs] = (((gs % K) >> gf) & 1) != 0;
            end
            trigger_or_and_tree #(.W(N_CH)) sel (.x(f_low), .m(has), .y(f_k[gf]));
        end
    endgenerate

    wire ch_empty, ch_full, ch_pop;
    wire [CHUNK+1+JW+KW+META_W-1:0] ch_head;
    wire [FCW-1:0] ch_count;
    wire f_adv = f_valid && !ch_full;
    wire f_single;  // f_any has at most one flag: the beat is done with this clock's chunk
    trigger_at_most #(.W(N_CH), .K(1)) f_last (.x(f_any), .y(f_single));
    // the next beat is taken once F is empty: a clock between beats, so that the pop never waits on the
    // lowest-flag carry chain and its zero test (6 LUT levels and a chain when it did)
    assign q_pop = !q_empty && !f_valid;

    always @(posedge clk) begin
        if (!rst_n) begin
            f_valid <= 1'b0;
        end else if (q_pop) begin
            f_valid <= 1'b1;
            {f_mask, f_one, f_any, f_meta} <= q_head;
        end else if (f_adv) begin
            f_any   <= f_rest;
            f_valid <= !f_single;
        end
    end

    trigger_fifo #(.WIDTH(CHUNK + 1 + JW + KW + META_W), .DEPTH(FIFO_DEPTH)) chunks (
        .clk(clk), .rst_n(rst_n), .push(f_adv), .wr_data({f_chunk, f_chunk_one, f_j, f_k, f_meta}),
        .pop(ch_pop), .rd_data(ch_head), .empty(ch_empty), .full(ch_full), .count(ch_count));

    // ---------------------------------------------- S: one candidate a clock
    reg              s_valid;
    reg [CHUNK-1:0]  s_bits;
    reg              s_one;      // s_bits has at most one bit left
    wire             s_two;      // ... at most two (one left after this clock's)
    trigger_at_most #(.W(CHUNK), .K(2)) two (.x(s_bits), .y(s_two));
    reg [JW-1:0]     s_j;
    reg [KW-1:0]     s_k;
    reg [META_W-1:0] s_meta;

    wire [CHUNK-1:0] s_rest = s_bits & (s_bits - 1'b1);
    // the lowest bit alone (one LUT after the carry chain, kept) and its number: bit k of the number is the OR
    // of the CHUNK/2 bits whose number has bit k set, as OR trees (yosys chained the encoder: 5 LUT levels)
    (* keep *) wire [CHUNK-1:0] s_low = s_bits ^ s_rest;
    wire [BW-1:0] s_b;
    genvar gk, gb;
    generate
        for (gk = 0; gk < BW; gk = gk + 1) begin : encode
            wire [CHUNK/2-1:0] with_k;  // s_low of the bits whose number has bit k set, in order
            for (gb = 0; gb < CHUNK / 2; gb = gb + 1) begin : pick
                localparam integer B = ((gb >> gk) << (gk + 1)) | (1 << gk) | (gb & ((1 << gk) - 1));
                assign with_k[gb] = s_low[B];
            end
            trigger_or_tree #(.W(CHUNK / 2)) any (.x(with_k), .y(s_b[gk]));
        end
    endgenerate

    wire cf_empty, cf_full;
    wire [FCW-1:0] cf_count;
    // room for this candidate and the one in P (which pushes unconditionally)
    wire s_adv = s_valid && cf_count < FIFO_DEPTH[FCW-1:0] - 1'b1;
    // the next chunk is loaded with this one's last candidate, known from registers (s_one) rather than
    // from the lowest-bit carry chain
    assign ch_pop = !ch_empty && (!s_valid || (s_adv && s_one));

    always @(posedge clk) begin
        if (!rst_n) begin
            s_valid <= 1'b0;
        end else if (ch_pop) begin
            s_valid <= 1'b1;
            {s_bits, s_one, s_j, s_k, s_meta} <= ch_head;
        end else if (s_adv) begin
            s_bits  <= s_rest;
            s_one   <= s_two;
            s_valid <= !s_one;  // a bit is left (s_one is exact: no zero test of s_rest after its carry chain)
        end
    end

    // ------------------------------------------------- P: the ROI arithmetic
    reg              p_valid;
    reg [JW-1:0]     p_j;
    reg [GW-1:0]     p_g;
    reg [META_W-1:0] p_meta;
    wire [KW+BW-1:0] s_group = {s_k, s_b};
    always @(posedge clk) begin
        if (!rst_n) p_valid <= 1'b0;
        else        p_valid <= s_adv;
        if (s_adv) begin
            p_j    <= s_j;
            p_g    <= s_group[GW-1:0];
            p_meta <= s_meta;
        end
    end
    wire [31:0]   p_beat;
    wire [RW-1:0] p_bank;
    wire [HAW-1:0] p_addr;
    wire [15:0]   p_window, p_sample;
    assign {p_beat, p_bank, p_addr, p_window, p_sample} = p_meta;

    // beats the ROI of sample j starts before (floor) and ends after the candidate's beat
    function automatic integer roi_first_offset(input integer jj);
        roi_first_offset = (jj - N_BEFORE >= 0) ? (jj - N_BEFORE) / SPB
                                                : -((N_BEFORE - jj + SPB - 1) / SPB);
    endfunction
    reg signed [7:0] p_first_off, p_last_off;
    reg signed [15:0] p_stale_off;  // the first beat's offset plus the beats after which it has left the history
    reg [JW-1:0]     p_offset;
    integer jo, first_off, last_off, offset, stale_off;
    always @(*) begin
        p_first_off = 8'sd0;
        p_stale_off = 16'sd0;
        p_last_off  = 8'sd0;
        p_offset    = {JW{1'b0}};
        first_off = 0;
        last_off = 0;
        offset = 0;
        stale_off = 0;
        for (jo = 0; jo < SPB; jo = jo + 1)
            if (p_j == jo[JW-1:0]) begin
                first_off = roi_first_offset(jo);
                last_off  = (jo + N_AFTER - 1) / SPB;
                offset    = jo - N_BEFORE - SPB * roi_first_offset(jo);
                p_first_off = first_off[7:0];
                stale_off   = first_off + HIST_BEATS - STALE_MARGIN;
                p_stale_off = stale_off[15:0];
                p_last_off  = last_off[7:0];
                p_offset    = offset[JW-1:0];
            end
    end
    // the beat from which the candidate is too old: newest - first > HIST_BEATS - 1 - STALE_MARGIN is
    // newest - stale >= 0 (a signed difference, as c_complete's; one carry chain in C, not a subtraction and
    // then a comparison)
    wire [31:0] p_stale_beat = p_beat + {{16{p_stale_off[15]}}, p_stale_off};
    wire [31:0] p_last_beat  = p_beat + {{24{p_last_off[7]}}, p_last_off};
    // (bank, address) of the first beat: the candidate's, moved back by |first_off| < SPAN beats
    wire signed [7:0] p_bank_back = $signed({{(8 - RW){1'b0}}, p_bank}) + p_first_off;
    wire [RW-1:0]  p_first_bank = (p_bank_back < 0) ? p_bank_back[RW-1:0] + SPAN[RW-1:0] : p_bank_back[RW-1:0];
    wire [HAW-1:0] p_first_addr = (p_bank_back < 0) ? p_addr - 1'b1 : p_addr;
    wire [15:0]    p_sample_j   = p_sample + {{(16 - JW){1'b0}}, p_j};
    wire [31:0]    p_time       = p_beat * SPB + {{(32 - JW){1'b0}}, p_j};

    localparam integer CF_W = GW + JW + RW + HAW + 16 + 16 + 32 + 32 + 32;
    wire [CF_W-1:0] cf_head;
    wire cf_pop;
    trigger_fifo #(.WIDTH(CF_W), .DEPTH(FIFO_DEPTH)) cands (
        .clk(clk), .rst_n(rst_n), .push(p_valid),
        .wr_data({p_g, p_offset, p_first_bank, p_first_addr, p_window, p_sample_j, p_time, p_stale_beat,
                  p_last_beat}),
        .pop(cf_pop), .rd_data(cf_head), .empty(cf_empty), .full(cf_full), .count(cf_count));

    // ------------------------------------------ C: issue or drop the head
    reg          c_valid;
    reg [CF_W-1:0] c_data;
    wire [31:0]  c_stale_beat = c_data[32 +: 32];
    wire [31:0]  c_last_beat  = c_data[0 +: 32];
    assign {cand_group, cand_offset, cand_first_bank, cand_first_addr, cand_window, cand_sample, cand_time} =
        c_data[CF_W-1:64];
    // all its beats have arrived / its oldest beat is still in the history at the read
    wire c_complete = $signed(newest_beat - c_last_beat) >= 0;
    wire c_stale    = $signed(newest_beat - c_stale_beat) >= 0;
    assign drop  = c_valid && c_stale;
    assign issue = c_valid && !c_stale && c_complete && credit;
    assign cf_pop = !cf_empty && (!c_valid || drop || issue);

    always @(posedge clk) begin
        if (!rst_n) begin
            c_valid <= 1'b0;
        end else if (cf_pop) begin
            c_valid <= 1'b1;
            c_data  <= cf_head;
        end else if (drop || issue) begin
            c_valid <= 1'b0;
        end
    end

    // ------------------------------------- candidates lost to queue overflow
    // population count of the refused mask, one short step a clock (4 LUT levels and one carry chain at most,
    // docs/hardware.md, Timing by construction): 6-bit slices counted in one LUT level, then the slice
    // counts added in pairs, one adder level a clock; the total reaches CAND_DROP_COUNT LOST_LATENCY clocks
    // after the overflow. Each level holds one overflow's partial sums, so gating the total with that
    // overflow's valid bit is exact, also across a reset.
    localparam integer SL = 6;
    localparam integer N_SL = (CAND_W + SL - 1) / SL;
    localparam integer LOST_LEVELS = (N_SL > 1) ? $clog2(N_SL) : 1;
    wire [N_SL*SL-1:0] refused;
    generate  // a zero-width replication, {0{..}}, is not Verilog-2001: pad only when CAND_W is not a multiple of SL
        if (N_SL * SL == CAND_W) begin : refused_whole
            assign refused = push_mask;
        end else begin : refused_padded
            assign refused = {{(N_SL * SL - CAND_W){1'b0}}, push_mask};
        end
    endgenerate
    reg  [LOST_LEVELS:0] l_valid;
    function automatic [2:0] ones6(input [SL-1:0] bits);  // one LUT level per output bit
        integer b;
        begin
            ones6 = 3'd0;
            for (b = 0; b < SL; b = b + 1)
                ones6 = ones6 + {2'd0, bits[b]};
        end
    endfunction
    // level l holds ceil(N_SL / 2^l) partial sums, each its own register, and loads only when the level
    // before it holds an overflow's sums (its l_valid bit): the output is gated by l_valid, so a level that
    // keeps an old overflow's sums is never read. Recomputing every level of a full-width packed tree each
    // clock, as before, made the Verilated boards 4x slower; overflows are rare.
    genvar gl, gi;
    generate
        for (gl = 0; gl <= LOST_LEVELS; gl = gl + 1) begin : lvl
            localparam integer N = (N_SL + (1 << gl) - 1) >> gl;
            reg [N*CNT_W-1:0] s;
            if (gl == 0) begin : leaf
                for (gi = 0; gi < N; gi = gi + 1) begin : e
                    always @(posedge clk)
                        if (overflow) s[gi * CNT_W +: CNT_W] <= {{(CNT_W - 3){1'b0}}, ones6(refused[gi * SL +: SL])};
                end
            end else begin : node
                localparam integer NP = (N_SL + (1 << (gl - 1)) - 1) >> (gl - 1);
                for (gi = 0; gi < N; gi = gi + 1) begin : e
                    if (2 * gi + 1 < NP) begin : pair
                        always @(posedge clk)
                            if (l_valid[gl - 1])
                                s[gi * CNT_W +: CNT_W] <= lvl[gl - 1].s[2 * gi * CNT_W +: CNT_W]
                                                        + lvl[gl - 1].s[(2 * gi + 1) * CNT_W +: CNT_W];
                    end else begin : single
                        always @(posedge clk)
                            if (l_valid[gl - 1]) s[gi * CNT_W +: CNT_W] <= lvl[gl - 1].s[2 * gi * CNT_W +: CNT_W];
                    end
                end
            end
        end
    endgenerate
    always @(posedge clk) begin
        if (!rst_n) begin
            l_valid <= {(LOST_LEVELS + 1){1'b0}};
            lost    <= {CNT_W{1'b0}};
        end else begin
            l_valid <= {l_valid[LOST_LEVELS-1:0], overflow};
            lost    <= l_valid[LOST_LEVELS] ? lvl[LOST_LEVELS].s[CNT_W-1:0] : {CNT_W{1'b0}};
        end
    end

    assign busy = !q_empty || f_valid || !ch_empty || s_valid || p_valid || !cf_empty || c_valid || |l_valid;

    // full flags cannot be reached: the feeder and serializer look at them / at the count first
    wire unused_ok = &{1'b0, cf_full, ch_count, first_off[31:8], last_off[31:8], offset[31:JW],
                        stale_off[31:16], s_group};

endmodule

`default_nettype wire
