// ROI window of the trigger top (trigger_top.v), stages G3 and G4 of the ROI
// gathering: a module of its own so that its logic is synthesized and counted
// on its own (docs/hardware.md, Resources).
//
// In: the word of each colour class in each bank's beat (SPB samples of the
// module of that colour, from trigger_word_mux), the colour of each of the
// three slots (module order), and where the ROI starts: bank of its first beat
// and sample within that beat. Out, two clocks later: the ROI in the network's
// order, input (slot * WINDOW + t) = sample t of the slot's module.

`timescale 1 ns / 1 ps
`default_nettype none

module trigger_roi_window #(
    parameter integer SPB = 4,
    parameter integer SPAN = 5,
    parameter integer WINDOW = 16,
    parameter integer N_COLOURS = 3,
    parameter integer BITS = 8,
    parameter integer JW = (SPB > 1) ? $clog2(SPB) : 1,
    parameter integer RW = $clog2(SPAN)
) (
    input  wire                              clk,
    input  wire [N_COLOURS*SPAN*SPB*BITS-1:0] colour_words, // word (colour c, bank r) at (c*SPAN + r)*SPB*BITS
    input  wire [3*2-1:0]                    slot_colour,  // colour of slot s at [2*s +: 2]
    input  wire [JW-1:0]                     offset,
    input  wire [RW-1:0]                     first_bank,
    output reg  [3*WINDOW*BITS-1:0]          roi
);
    // G3: slot s takes the words of its colour, one per bank (a 3-to-1 selection); the bank of each of
    // the ROI's beats, (first_bank + i) mod SPAN, is worked out here too, so that G4 is two selections
    // (an AND-OR of the colours' constant part-selects, for the reason given at G4)
    localparam integer CW = SPAN * SPB * BITS;  // one colour's words, all banks
    reg [CW-1:0]            g3_words [0:2];   // bank r at [r*SPB*BITS +: SPB*BITS]
    reg [JW-1:0]            g3_offset;
    reg [RW-1:0]            beat_bank [0:SPAN-1];
    reg [CW-1:0]            slot_words [0:2];
    integer s3, i3, c3;
    always @(*)
        for (s3 = 0; s3 < 3; s3 = s3 + 1) begin
            slot_words[s3] = {CW{1'b0}};
            for (c3 = 0; c3 < N_COLOURS; c3 = c3 + 1)
                slot_words[s3] = slot_words[s3] | ({CW{slot_colour[2 * s3 +: 2] == c3[1:0]}} & colour_words[c3 * CW +: CW]);
        end
    always @(posedge clk) begin
        g3_offset <= offset;
        for (i3 = 0; i3 < SPAN; i3 = i3 + 1)
            beat_bank[i3] <= ({1'b0, first_bank} + i3[RW:0] >= SPAN[RW:0])
                           ? first_bank + i3[RW-1:0] - SPAN[RW-1:0] : first_bank + i3[RW-1:0];
        for (s3 = 0; s3 < 3; s3 = s3 + 1)
            g3_words[s3] <= slot_words[s3];
    end

    // G4: rotating the banks into beat order and then shifting by the offset are two small selections
    // (5-to-1, 4-to-1) where one 20-to-1 per sample would be. Both are AND-OR selections of constant
    // part-selects: a part-select at a variable index times a width that is not a power of two (a
    // readout board's 5-bit counts) is a shifter that yosys maps in more LUT levels (5 instead of 4).
    localparam integer BW = SPB * BITS;       // one bank's word: SPB samples
    localparam integer RW_W = WINDOW * BITS;  // one slot's ROI
    reg [SPAN*BW-1:0] span [0:2];             // slot s: samples of the ROI's beats in time order
    reg [RW_W-1:0]    shifted [0:2];
    integer s4, b4, r4, o4;
    always @(*)
        for (s4 = 0; s4 < 3; s4 = s4 + 1) begin
            span[s4] = {SPAN*BW{1'b0}};
            for (b4 = 0; b4 < SPAN; b4 = b4 + 1)
                for (r4 = 0; r4 < SPAN; r4 = r4 + 1)
                    span[s4][b4 * BW +: BW] = span[s4][b4 * BW +: BW]
                        | ({BW{beat_bank[b4] == r4[RW-1:0]}} & g3_words[s4][r4 * BW +: BW]);
            shifted[s4] = {RW_W{1'b0}};
            for (o4 = 0; o4 < SPB; o4 = o4 + 1)
                shifted[s4] = shifted[s4] | ({RW_W{g3_offset == o4[JW-1:0]}} & span[s4][o4 * BITS +: RW_W]);
        end

    integer s5;
    always @(posedge clk)
        for (s5 = 0; s5 < 3; s5 = s5 + 1)
            roi[s5 * RW_W +: RW_W] <= shifted[s5];
endmodule

`default_nettype wire
