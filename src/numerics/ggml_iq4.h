// ggml's 4-bit non-linear quantization, shared by IQ4_NL (one block of 32) and IQ4_XS (a
// super-block of 8 x 32 with 6-bit sub-block scales): ggml's quantize_row_iq4_nl_impl with
// ntry = 7, the search quantize_iq4_nl / quantize_iq4_xs run with or without an imatrix
// (private to numerics/).
#pragma once
#include <cstdint>

namespace lowbit::ggml_detail {

// The codebook (kvalues_iq4nl): code c decodes to d * kIq4Values[c].
inline constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

// The code whose value is nearest x (ggml's best_index_int8; a tie takes the upper code).
int iq4_nearest_code(float x);

// One super-block of super_block_size values (32: IQ4_NL, 256: IQ4_XS). qw: the imatrix for these
// values, or null (weights x^2). Writes the fp16 scale *d, the super_block_size/2 code bytes qs
// (values 32i + t and 32i + 16 + t share byte 16i + t, low nibble first) and, for more than one
// block, the 6-bit sub-block scales (+32): low nibbles in scales_l[ib/2], top 2 bits at bit
// 2*(ib%8) of scales_h[ib/8]. scales_h and scales_l may be null for IQ4_NL.
void quantize_iq4_superblock(int super_block_size, const float* x, const float* qw, uint16_t* d,
                             uint8_t* qs, uint16_t* scales_h, uint8_t* scales_l);

}  // namespace lowbit::ggml_detail
