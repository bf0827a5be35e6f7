/* Thin harness over Debian's libbcg729 (libbcg729-dev), the G.729A/B test oracle of
 * ac-media's g729 tests and benches. Only calls the library's public API. */
#include <stdint.h>
#include <bcg729/encoder.h>
#include <bcg729/decoder.h>

void *ref_g729_encoder_new(int vad) { return initBcg729EncoderChannel((uint8_t)(vad != 0)); }
void ref_g729_encoder_free(void *s) { closeBcg729EncoderChannel(s); }
/* 80 samples in; returns the frame length (10, 2 or 0). */
int ref_g729_encode(void *s, const int16_t *pcm, uint8_t *out) {
    uint8_t len = 0;
    bcg729Encoder(s, pcm, out, &len);
    return len;
}
void *ref_g729_decoder_new(void) { return initBcg729DecoderChannel(); }
void ref_g729_decoder_free(void *s) { closeBcg729DecoderChannel(s); }
/* len 10 = speech, 2 = SID, 0 = untransmitted (comfort noise continues). */
void ref_g729_decode(void *s, const uint8_t *frame, int len, int16_t *out) {
    bcg729Decoder(s, frame, (uint8_t)len, 0, len == 2 || len == 0, 0, out);
}
