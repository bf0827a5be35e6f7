/* The C reference of the SIP parser bench: sofia-sip's message parser (libsofia-sip-ua).
 * Parses one complete message from a buffer and checks the headers a stack needs were
 * parsed; returns 0 on success. */
#include <string.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

int ac_bench_sofia_parse(const char *buf, size_t len)
{
    msg_t *msg = msg_make(sip_default_mclass(), 0, buf, len);
    if (!msg)
        return -1;
    sip_t const *sip = sip_object(msg);
    int ok = sip && sip->sip_via && sip->sip_from && sip->sip_to && sip->sip_call_id && sip->sip_cseq
             && !sip->sip_error;
    msg_destroy(msg);
    return ok ? 0 : -2;
}
