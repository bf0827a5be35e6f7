/* Thin harness over the reference C implementations, for ac-media's interop tests and
 * benches. Only calls the libraries' public APIs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <srtp2/srtp.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <spandsp/g722.h>

/* ---- libsrtp2 ---- */
#include <pthread.h>
static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static int srtp_init_status = -1;
static void srtp_init_once(void) { srtp_init_status = (int)srtp_init(); }

int ref_srtp_new(void **out, int tag80, const uint8_t *key_salt30, int outbound) {
    pthread_once(&srtp_once, srtp_init_once);
    if (srtp_init_status != srtp_err_status_ok) return -1;
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (tag80) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&policy.rtp);
    }
    /* RFC 4568 / RFC 3711: SRTCP always uses the 80-bit tag. */
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
    policy.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = (unsigned char *)key_salt30;
    policy.window_size = 128;
    policy.allow_repeat_tx = 0;
    policy.next = NULL;
    srtp_t s;
    if (srtp_create(&s, &policy) != srtp_err_status_ok) return -2;
    *out = s;
    return 0;
}

void ref_srtp_free(void *s) { srtp_dealloc((srtp_t)s); }

/* buf must have room for len + SRTP_MAX_TRAILER_LEN bytes. Returns 0 or the libsrtp status. */
int ref_srtp_protect(void *s, uint8_t *buf, int *len) {
    return (int)srtp_protect((srtp_t)s, buf, len);
}
int ref_srtp_unprotect(void *s, uint8_t *buf, int *len) {
    return (int)srtp_unprotect((srtp_t)s, buf, len);
}
int ref_srtcp_protect(void *s, uint8_t *buf, int *len) {
    return (int)srtp_protect_rtcp((srtp_t)s, buf, len);
}
int ref_srtcp_unprotect(void *s, uint8_t *buf, int *len) {
    return (int)srtp_unprotect_rtcp((srtp_t)s, buf, len);
}

/* ---- spandsp G.711 ---- */
void ref_alaw_encode(const int16_t *pcm, uint8_t *out, int n) {
    for (int i = 0; i < n; i++) out[i] = linear_to_alaw(pcm[i]);
}
void ref_alaw_decode(const uint8_t *in, int16_t *out, int n) {
    for (int i = 0; i < n; i++) out[i] = alaw_to_linear(in[i]);
}
void ref_ulaw_encode(const int16_t *pcm, uint8_t *out, int n) {
    for (int i = 0; i < n; i++) out[i] = linear_to_ulaw(pcm[i]);
}
void ref_ulaw_decode(const uint8_t *in, int16_t *out, int n) {
    for (int i = 0; i < n; i++) out[i] = ulaw_to_linear(in[i]);
}

/* ---- spandsp G.722 ---- */
void *ref_g722_encoder_new(void) { return g722_encode_init(NULL, 64000, 0); }
void ref_g722_encoder_free(void *s) { g722_encode_free((g722_encode_state_t *)s); }
int ref_g722_encode(void *s, const int16_t *pcm, int n, uint8_t *out) {
    return g722_encode((g722_encode_state_t *)s, out, pcm, n);
}
/* rate 64000, 56000 or 48000; unpacked codes hold 8, 7 or 6 bits. */
void *ref_g722_decoder_new(int rate) { return g722_decode_init(NULL, rate, 0); }
void ref_g722_decoder_free(void *s) { g722_decode_free((g722_decode_state_t *)s); }
int ref_g722_decode(void *s, const uint8_t *codes, int n, int16_t *out) {
    return g722_decode((g722_decode_state_t *)s, out, codes, n);
}

/* ---- speexdsp jitter buffer ---- */
#include <speex/speex_jitter.h>
void *ref_jb_new(int step) { return jitter_buffer_init(step); }
void ref_jb_free(void *j) { jitter_buffer_destroy((JitterBuffer *)j); }
void ref_jb_put(void *j, uint32_t ts, uint32_t span, uint16_t seq) {
    char d = 0;
    JitterBufferPacket p;
    p.data = &d;
    p.len = 1;
    p.timestamp = ts;
    p.span = span;
    p.sequence = seq;
    p.user_data = 0;
    jitter_buffer_put((JitterBuffer *)j, &p);
}
/* Returns JITTER_BUFFER_OK (0) with the packet's timestamp, or another status. */
int ref_jb_get(void *j, uint32_t span, uint32_t *ts_out) {
    char buf[16];
    JitterBufferPacket p;
    p.data = buf;
    p.len = sizeof buf;
    spx_int32_t off = 0;
    int r = jitter_buffer_get((JitterBuffer *)j, &p, (spx_int32_t)span, &off);
    if (r == JITTER_BUFFER_OK) *ts_out = p.timestamp;
    return r;
}
void ref_jb_tick(void *j) { jitter_buffer_tick((JitterBuffer *)j); }

/* ---- speexdsp echo canceller (MDF) and preprocessor ---- */
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
typedef struct {
    SpeexEchoState *echo;
    SpeexPreprocessState *pre;
} ref_aec_t;
/* frame and filter length in samples; with_pre: also run the preprocessor (residual echo
 * suppression and noise suppression) on the canceller's output. */
void *ref_aec_new(int frame, int filter, int rate, int with_pre) {
    ref_aec_t *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->echo = speex_echo_state_init(frame, filter);
    speex_echo_ctl(a->echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
    if (with_pre) {
        a->pre = speex_preprocess_state_init(frame, rate);
        speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_ECHO_STATE, a->echo);
        int on = 1;
        speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_DENOISE, &on);
    }
    return a;
}
void ref_aec_free(void *p) {
    ref_aec_t *a = p;
    if (a->pre) speex_preprocess_state_destroy(a->pre);
    speex_echo_state_destroy(a->echo);
    free(a);
}
void ref_aec_process(void *p, const int16_t *far, const int16_t *near, int16_t *out) {
    ref_aec_t *a = p;
    speex_echo_cancellation(a->echo, near, far, out);
    if (a->pre) speex_preprocess_run(a->pre, out);
}

/* ---- spandsp supervisory (call progress) tone detector ---- */
#include <spandsp/super_tone_rx.h>
typedef struct {
    int *codes;
    int max, n;
    int *segs;
    int smax, sn;
} ref_str_t;
static void ref_str_tone(void *u, int code, int level, int delay) {
    ref_str_t *r = u;
    (void)level;
    (void)delay;
    if (r->n < r->max) r->codes[r->n++] = code;
}
static ref_str_t *ref_str_seg_target;
static void ref_str_seg(void *u, int f1, int f2, int duration) {
    ref_str_t *r = u ? u : ref_str_seg_target;
    if (r && r->sn + 3 <= r->smax) {
        r->segs[r->sn++] = f1;
        r->segs[r->sn++] = f2;
        r->segs[r->sn++] = duration;
    }
}
/* One tone pattern of nelem (f1, f2, min ms, max ms) elements; feeds n samples at 8 kHz in
 * 160-sample blocks. Writes the reported codes (tone id 0 = detected, -1 = ended) and the
 * element segments (f1, f2, duration triples). Returns the number of codes. */
int ref_super_tone_detect(const int16_t *amp, int n, const int *el, int nelem, int *codes,
                          int max, int *segs, int smax, int *nsegs) {
    super_tone_rx_descriptor_t *d = super_tone_rx_make_descriptor(NULL);
    int tone = super_tone_rx_add_tone(d);
    for (int i = 0; i < nelem; i++)
        super_tone_rx_add_element(d, tone, el[4 * i], el[4 * i + 1], el[4 * i + 2], el[4 * i + 3]);
    ref_str_t r = {codes, max, 0, segs, smax, 0};
    super_tone_rx_state_t *s = super_tone_rx_init(NULL, d, ref_str_tone, &r);
    ref_str_seg_target = &r;
    super_tone_rx_segment_callback(s, ref_str_seg);
    for (int i = 0; i < n; i += 160) super_tone_rx(s, amp + i, (n - i) < 160 ? (n - i) : 160);
    super_tone_rx_free(s);
    super_tone_rx_free_descriptor(d);
    ref_str_seg_target = NULL;
    *nsegs = r.sn / 3;
    return r.n;
}
