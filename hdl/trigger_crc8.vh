// CRC-8 of the candidate frames (polynomial x^8 + x^2 + x + 1, 0x07; initial 0; the payload's bit 0 first),
// included by trigger_readout_board.v and trigger_central_board.v, which declare PAYLOAD_W.
//
// The CRC is linear in the payload: CRC bit k is the XOR of the payload bits in mask k. The masks are
// worked out once at elaboration (crc8_masks: the serial register, one payload bit a step, with each
// state bit kept as the set of payload bits it is the XOR of), so the logic is eight XOR reductions,
// balanced trees of about log6(PAYLOAD_W) = 3 LUT levels, instead of a chain through every payload bit
// (38 to 44 LUT levels in yosys' netlist when the serial loop was written out).
function automatic [8*PAYLOAD_W-1:0] crc8_masks(input integer unused);
    integer i;
    reg [PAYLOAD_W-1:0] m0, m1, m2, m3, m4, m5, m6, m7, fb, one;
    begin
        m0 = {PAYLOAD_W{1'b0}}; m1 = m0; m2 = m0; m3 = m0; m4 = m0; m5 = m0; m6 = m0; m7 = m0;
        one = {{(PAYLOAD_W - 1){1'b0}}, 1'b1};
        for (i = 0; i < PAYLOAD_W + unused; i = i + 1) begin
            fb = m7 ^ (one << i);  // the feedback: the register's top bit XOR payload bit i
            m7 = m6; m6 = m5; m5 = m4; m4 = m3; m3 = m2;
            m2 = m1 ^ fb;          // x^2 + x + 1
            m1 = m0 ^ fb;
            m0 = fb;
        end
        crc8_masks = {m7, m6, m5, m4, m3, m2, m1, m0};
    end
endfunction

localparam [8*PAYLOAD_W-1:0] CRC8_MASKS = crc8_masks(0);

function automatic [7:0] crc8(input [PAYLOAD_W-1:0] bits);
    integer k;
    begin
        for (k = 0; k < 8; k = k + 1)
            crc8[k] = ^(bits & CRC8_MASKS[k * PAYLOAD_W +: PAYLOAD_W]);
    end
endfunction
