/*
 * board_demo: a minimal board layer in C over libac_phone, using the C ABI only.
 *
 * Three virtual 440HD phones (alice, bob, carol) boot on 127.0.0.1. Each has a "board": an
 * audio thread that every 10 ms hands the phone a microphone frame (a sine tone of its own
 * pitch) and plays (records) the speaker frame it gets back, and callbacks that show the
 * display, LEDs, ringer and tones. Then:
 *   alice calls bob; bob's board lifts the handset when it rings; audio flows both ways (each
 *   side hears the other's tone); alice sends DTMF 1 2 3 (bob's display shows them); alice
 *   holds (bob sees "remote hold") and resumes; alice blind-transfers bob to carol (carol
 *   answers automatically); bob hangs up.
 * With --registrar IP:PORT --callee URI, two phones (alice, carol) register instead through
 * that proxy as sip:alice@DOMAIN / sip:carol@DOMAIN (digest passwords --alice-password,
 * --carol-password; DOMAIN from --domain, example.com by default) and alice calls URI (a phone
 * that answers by itself and plays a 440 Hz tone, e.g. baresip), sends DTMF, holds, resumes and
 * blind-transfers it to carol, who hangs up at the end.
 * With --dhcp IFACE --callee URI --transfer-to URI, one phone (alice, factory configuration)
 * boots as the real one does: DHCP on IFACE, its .cfg from the provisioning URL of the DHCP
 * answer (HTTPS, trusting the --ca PEM; --mac is the board MAC of the <MAC>.cfg name), time,
 * registration to the proxy of that .cfg; then it calls URI (answering by itself with a
 * --callee-hz tone), sends DTMF, holds, resumes and blind-transfers it.
 * Prints each step, and "board_demo: N passed, M failed"; exits 0 when every check holds.
 * Options: --timeout S (per step, default 30), --slow (under valgrind: tone checks printed only).
 *
 * Build (see crates/ac-ffi/README.md):  cc -std=c11 board_demo.c $(pkg-config --cflags --libs ac_phone) -lpthread -lm
 * crates/ac-ffi/tests/board_demo.rs builds it that way and runs it under valgrind.
 */
#define _POSIX_C_SOURCE 200809L

#include <ac_phone.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

/* Seconds to wait for each step; valgrind slows everything down. */
static double step_timeout = 30.0;
/* --slow (under valgrind): the audio threads cannot keep real time, so the tone checks are
 * printed but not asserted; the native run asserts them. */
static int slow;

static int passed, failed;

/* --dhcp mode: how the phone gets on the network (else a static 127.0.0.1). */
static const char *dhcp_if;
static uint8_t board_mac[6];
static int have_mac;
static uint8_t *ca_pem;
static size_t ca_pem_len;

#define CHECK(cond, what)                                             \
  do {                                                                \
    if (cond) {                                                       \
      passed++;                                                       \
      printf("  ok: %s\n", what);                                     \
    } else {                                                          \
      failed++;                                                       \
      printf("  FAILED: %s (%s:%d: %s)\n", what, __FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (0)

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static void fail_result(const char *what, ac_result r) {
  char msg[256];
  size_t n = 0;
  if (ac_result_message(r, msg, sizeof msg, &n) != AC_RESULT_OK)
    snprintf(msg, sizeof msg, "?");
  printf("  FAILED: %s: %s (%u)\n", what, msg, (unsigned)r);
  failed++;
}

#define OK(expr)                         \
  do {                                   \
    ac_result r_ = (expr);               \
    if (r_ != AC_RESULT_OK)              \
      fail_result(#expr, r_);            \
  } while (0)

/* ---- the board of one phone ---- */

#define HEARD_MAX (16000 * 60)

struct board {
  const char *name;
  double tone_hz;
  struct ac_phone *phone;
  pthread_t audio;
  atomic_int stop;
  pthread_mutex_t lock; /* guards everything below */
  int16_t *heard;       /* speaker samples, 16 kHz */
  size_t heard_n;
  char dtmf[16];        /* digits the display showed */
  int rings;            /* incoming-call displays */
  int remote_held;      /* "held by the peer" displays */
  int ringer_on;
};

static const char *display_name(ac_display_kind k) {
  static const char *names[] = {"boot",      "idle",   "dialing",     "calling",
                                "ringback",  "incoming", "call-waiting", "connected",
                                "held",      "remote-held", "ended",    "notice",
                                "locked",    "missed-calls", "dtmf",    "quality"};
  return k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* Callbacks: on the phone's thread. */
static void on_display(void *userdata, ac_display_kind kind, uint32_t call, const char *text,
                       size_t text_len) {
  struct board *b = userdata;
  printf("    [%s] display %-12s call=%u \"%.*s\"\n", b->name, display_name(kind), call,
         (int)text_len, text);
  pthread_mutex_lock(&b->lock);
  if (kind == AC_DISPLAY_INCOMING)
    b->rings++;
  if (kind == AC_DISPLAY_REMOTE_HELD)
    b->remote_held++;
  if (kind == AC_DISPLAY_DTMF && text_len == 1 && strlen(b->dtmf) + 1 < sizeof b->dtmf)
    strncat(b->dtmf, text, 1);
  pthread_mutex_unlock(&b->lock);
}

static void on_led(void *userdata, ac_led led, ac_led_state state) {
  struct board *b = userdata;
  printf("    [%s] led %u -> %u\n", b->name, (unsigned)led, (unsigned)state);
}

static void on_ringer(void *userdata, ac_ringer ringer) {
  struct board *b = userdata;
  printf("    [%s] ringer %u\n", b->name, (unsigned)ringer);
  pthread_mutex_lock(&b->lock);
  b->ringer_on = ringer != AC_RINGER_OFF;
  pthread_mutex_unlock(&b->lock);
}

static void on_tone(void *userdata, ac_tone tone) {
  struct board *b = userdata;
  printf("    [%s] tone %u\n", b->name, (unsigned)tone);
}

static void on_route(void *userdata, ac_audio_device device) {
  struct board *b = userdata;
  printf("    [%s] audio route %u\n", b->name, (unsigned)device);
}

/* The audio thread: every 10 ms a microphone frame in, a speaker frame out. */
static void *audio_thread(void *arg) {
  struct board *b = arg;
  int16_t mic[AC_PHONE_FRAME_SAMPLES], spk[AC_PHONE_FRAME_SAMPLES];
  unsigned long n = 0;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!atomic_load(&b->stop)) {
    for (size_t i = 0; i < AC_PHONE_FRAME_SAMPLES; i++, n++)
      mic[i] = (int16_t)(6000.0 * sin(2.0 * M_PI * b->tone_hz * (double)n / AC_PHONE_SAMPLE_RATE));
    if (ac_phone_audio_capture(b->phone, mic, AC_PHONE_FRAME_SAMPLES, spk,
                               AC_PHONE_FRAME_SAMPLES) == AC_RESULT_OK) {
      pthread_mutex_lock(&b->lock);
      if (b->heard_n + AC_PHONE_FRAME_SAMPLES <= HEARD_MAX) {
        memcpy(b->heard + b->heard_n, spk, sizeof spk);
        b->heard_n += AC_PHONE_FRAME_SAMPLES;
      }
      pthread_mutex_unlock(&b->lock);
    }
    next.tv_nsec += AC_PHONE_FRAME_MS * 1000000L;
    if (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  return NULL;
}

/* A phone and its board. `cfg_text`: the phone's .cfg; `aor`, `user`, `password`: its
 * sign-in (user and password empty without a registrar). */
static int board_start(struct board *b, const char *name, double tone_hz, uint16_t rtp_port,
                       const char *cfg_text, const char *aor, const char *user,
                       const char *password) {
  memset(b, 0, sizeof *b);
  b->name = name;
  b->tone_hz = tone_hz;
  b->heard = calloc(HEARD_MAX, sizeof(int16_t));
  pthread_mutex_init(&b->lock, NULL);
  atomic_init(&b->stop, 0);

  struct ac_cfg *cfg = NULL;
  OK(ac_cfg_parse((const uint8_t *)cfg_text, strlen(cfg_text), &cfg));
  struct ac_phone_options *opts = NULL;
  OK(ac_phone_options_new(&opts));
  if (dhcp_if != NULL) {
    OK(ac_phone_options_set_dhcp_interface(opts, dhcp_if, strlen(dhcp_if)));
    OK(ac_phone_options_set_boot_timeout_ms(opts, 15000));
  } else {
    OK(ac_phone_options_set_static_address(opts, "127.0.0.1", 9));
  }
  if (have_mac)
    OK(ac_phone_options_set_mac(opts, board_mac, sizeof board_mac));
  if (ca_pem != NULL)
    OK(ac_phone_options_add_ca_pem(opts, ca_pem, ca_pem_len));
  OK(ac_phone_options_set_sign_in(opts, aor, strlen(aor), user, strlen(user), password,
                                  strlen(password)));
  OK(ac_phone_options_set_display_name(opts, name, strlen(name)));
  /* Three phones on one host: each its own RTP ports (the SIP port is any free one). */
  OK(ac_phone_options_set_rtp_base_port(opts, rtp_port));

  struct ac_phone_callbacks cb = {0};
  cb.display = on_display;
  cb.led = on_led;
  cb.ringer = on_ringer;
  cb.tone = on_tone;
  cb.audio_route = on_route;
  ac_result r = ac_phone_new(cfg, "440HD", 5, opts, &cb, b, &b->phone);
  ac_cfg_free(cfg);
  ac_phone_options_free(opts);
  if (r != AC_RESULT_OK) {
    fail_result("ac_phone_new", r);
    return -1;
  }
  return pthread_create(&b->audio, NULL, audio_thread, b) == 0 ? 0 : -1;
}

static void board_stop(struct board *b) {
  if (b->phone != NULL) {
    atomic_store(&b->stop, 1);
    pthread_join(b->audio, NULL);
    ac_phone_free(b->phone);
    b->phone = NULL;
  }
  free(b->heard);
  pthread_mutex_destroy(&b->lock);
}

/* ---- helpers ---- */

static int ready(struct board *b) {
  struct ac_phone_status st;
  return ac_phone_status_get(b->phone, &st) == AC_RESULT_OK && st.stage == AC_BOOT_STAGE_READY;
}

/* Phase of the first call, or -1 when there is none. */
static int call_phase(struct board *b) {
  struct ac_phone_call c;
  return ac_phone_call_get(b->phone, 0, &c) == AC_RESULT_OK ? (int)c.phase : -1;
}

static size_t call_count(struct board *b) {
  struct ac_phone_status st;
  return ac_phone_status_get(b->phone, &st) == AC_RESULT_OK ? st.call_count : (size_t)-1;
}

struct phones {
  struct board *alice, *bob, *carol;
};

/* Polls `cond` every 10 ms until it holds or the step times out. */
static int wait_for(int (*cond)(struct phones *), struct phones *p) {
  double end = now_s() + step_timeout;
  for (;;) {
    if (cond(p))
      return 1;
    if (now_s() > end)
      return 0;
    sleep_ms(10);
  }
}

static int all_ready(struct phones *p) {
  return ready(p->alice) && ready(p->bob) && (p->carol == NULL || ready(p->carol));
}
static int alice_bob_idle(struct phones *p) {
  return call_count(p->alice) == 0 && call_count(p->bob) == 0;
}
static int bob_rings(struct phones *p) { return call_phase(p->bob) == AC_CALL_PHASE_INCOMING; }
static int alice_bob_connected(struct phones *p) {
  return call_phase(p->alice) == AC_CALL_PHASE_CONNECTED &&
         call_phase(p->bob) == AC_CALL_PHASE_CONNECTED;
}
static int bob_saw_dtmf(struct phones *p) {
  pthread_mutex_lock(&p->bob->lock);
  int d = strcmp(p->bob->dtmf, "123") == 0;
  pthread_mutex_unlock(&p->bob->lock);
  return d;
}
static int alice_held(struct phones *p) {
  return call_phase(p->alice) == AC_CALL_PHASE_HELD &&
         call_phase(p->bob) == AC_CALL_PHASE_REMOTE_HELD;
}
static int alice_idle(struct phones *p) { return call_count(p->alice) == 0; }
static int bob_carol_connected(struct phones *p) {
  return call_phase(p->carol) == AC_CALL_PHASE_CONNECTED &&
         call_phase(p->bob) == AC_CALL_PHASE_CONNECTED;
}
static int bob_carol_idle(struct phones *p) {
  return call_count(p->bob) == 0 && call_count(p->carol) == 0;
}

/* Goertzel over one window: the share of its power at `hz`. */
static double goertzel_share(const int16_t *x, size_t n, double hz) {
  double w = 2.0 * M_PI * hz / AC_PHONE_SAMPLE_RATE, c = 2.0 * cos(w);
  double s1 = 0, s2 = 0, e = 0;
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    e += v * v;
    double s0 = v + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  if (e == 0 || n == 0)
    return 0;
  return 2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * e);
}

/* How much of the last `seconds` of what `b` heard is the tone `hz`: the mean share over 50 ms
 * windows (a jitter buffer's insertions and drops shift the phase; short windows see the tone
 * between them). Silence counts as 0. */
static double tone_share(struct board *b, double hz, double seconds) {
  const size_t win = AC_PHONE_SAMPLE_RATE / 20;
  pthread_mutex_lock(&b->lock);
  size_t n = (size_t)(seconds * AC_PHONE_SAMPLE_RATE);
  if (n > b->heard_n)
    n = b->heard_n;
  const int16_t *x = b->heard + (b->heard_n - n);
  double sum = 0;
  size_t windows = 0;
  for (size_t off = 0; off + win <= n; off += win, windows++)
    sum += goertzel_share(x + off, win, hz);
  pthread_mutex_unlock(&b->lock);
  return windows == 0 ? 0 : sum / (double)windows;
}

static int sip_uri(struct board *b, char *out, size_t len) {
  char addr[64];
  size_t n = 0;
  if (ac_phone_sip_address(b->phone, addr, sizeof addr, &n) != AC_RESULT_OK)
    return -1;
  snprintf(out, len, "sip:%s@%s", b->name, addr);
  return 0;
}

static int registered(struct board *b) {
  struct ac_phone_status st;
  return ac_phone_status_get(b->phone, &st) == AC_RESULT_OK && st.registered;
}

/* Three phones on loopback, calling each other directly (no registrar). With --slow (under
 * valgrind) only alice and bob, and alice hangs up instead of transferring: valgrind runs the
 * threads one at a time, and with a third phone on a busy machine the transfer step missed
 * its deadline; the native run covers it. */
static void loopback(void) {
  struct board alice, bob, carol;
  struct phones ph = {&alice, &bob, slow ? NULL : &carol};
  memset(&carol, 0, sizeof carol);
  /* RTP ranges away from other programs' (tests run side by side): from the process id. */
  uint16_t rtp = (uint16_t)(20000 + (getpid() % 400) * 100);
  int up = board_start(&alice, "alice", 1000.0, rtp, "", "sip:alice@127.0.0.1", "", "") == 0;
  up = board_start(&bob, "bob", 1500.0, (uint16_t)(rtp + 20), "", "sip:bob@127.0.0.1", "", "") == 0 && up;
  if (!slow)
    up = board_start(&carol, "carol", 700.0, (uint16_t)(rtp + 40), "", "sip:carol@127.0.0.1", "",
                     "") == 0 && up;
  CHECK(up, "phones created");
  if (!up)
    goto out;

  printf("boot\n");
  CHECK(wait_for(all_ready, &ph), "all phones ready");
  char bob_uri[96], carol_uri[96] = "";
  CHECK(sip_uri(&bob, bob_uri, sizeof bob_uri) == 0 &&
            (slow || sip_uri(&carol, carol_uri, sizeof carol_uri) == 0),
        "SIP addresses known");
  if (!slow)
    OK(ac_phone_set_feature(carol.phone, AC_PHONE_FEATURE_AUTO_ANSWER, true));

  printf("alice calls %s\n", bob_uri);
  OK(ac_phone_dial(alice.phone, bob_uri, strlen(bob_uri)));
  CHECK(wait_for(bob_rings, &ph), "bob's phone rings");
  pthread_mutex_lock(&bob.lock);
  int rang = bob.rings > 0 && bob.ringer_on;
  pthread_mutex_unlock(&bob.lock);
  CHECK(rang, "bob's board got the incoming display and the ringer");
  printf("bob lifts the handset\n");
  OK(ac_phone_hook(bob.phone, AC_HOOK_OFF_HOOK));
  CHECK(wait_for(alice_bob_connected, &ph), "call connected on both phones");
  sleep_ms(1500);
  double heard_by_bob = tone_share(&bob, 1000.0, 1.0);
  double heard_by_alice = tone_share(&alice, 1500.0, 1.0);
  printf("  bob hears alice's 1000 Hz tone: %.0f%% of his speaker power; alice hears bob's "
         "1500 Hz: %.0f%%\n",
         heard_by_bob * 100, heard_by_alice * 100);
  if (!slow)
    CHECK(heard_by_bob > 0.5 && heard_by_alice > 0.5, "audio flows both ways");

  printf("alice sends DTMF 1 2 3\n");
  OK(ac_phone_dtmf(alice.phone, '1'));
  OK(ac_phone_dtmf(alice.phone, '2'));
  OK(ac_phone_dtmf(alice.phone, '3'));
  CHECK(wait_for(bob_saw_dtmf, &ph), "bob's display showed DTMF 1 2 3");

  printf("alice holds\n");
  OK(ac_phone_hold(alice.phone));
  CHECK(wait_for(alice_held, &ph), "alice held, bob sees remote hold");
  printf("alice resumes\n");
  OK(ac_phone_resume(alice.phone));
  CHECK(wait_for(alice_bob_connected, &ph), "call resumed on both phones");

  if (slow) {
    printf("alice hangs up\n");
    OK(ac_phone_hangup(alice.phone));
    CHECK(wait_for(alice_bob_idle, &ph), "both phones idle");
    goto out;
  }

  printf("alice transfers bob to %s\n", carol_uri);
  OK(ac_phone_transfer(alice.phone, carol_uri, strlen(carol_uri)));
  CHECK(wait_for(alice_idle, &ph), "alice's call ended after the transfer");
  CHECK(wait_for(bob_carol_connected, &ph), "bob and carol connected");
  char peer[128];
  size_t n = 0;
  OK(ac_phone_call_peer(carol.phone, 0, peer, sizeof peer, &n));
  CHECK(strstr(peer, "bob") != NULL, "carol's call is with bob");
  sleep_ms(1500);
  double bob_hears_carol = tone_share(&bob, 700.0, 1.0);
  double carol_hears_bob = tone_share(&carol, 1500.0, 1.0);
  printf("  bob hears carol's 700 Hz: %.0f%%; carol hears bob's 1500 Hz: %.0f%%\n",
         bob_hears_carol * 100, carol_hears_bob * 100);
  if (!slow)
    CHECK(bob_hears_carol > 0.5 && carol_hears_bob > 0.5, "audio flows between bob and carol");

  printf("bob hangs up\n");
  OK(ac_phone_hook(bob.phone, AC_HOOK_ON_HOOK));
  CHECK(wait_for(bob_carol_idle, &ph), "all phones idle");

out:
  board_stop(&alice);
  board_stop(&bob);
  if (!slow)
    board_stop(&carol);
}

static int alice_carol_registered(struct phones *p) {
  return registered(p->alice) && registered(p->carol);
}
static int alice_connected(struct phones *p) {
  return call_phase(p->alice) == AC_CALL_PHASE_CONNECTED;
}
static int alice_held_only(struct phones *p) { return call_phase(p->alice) == AC_CALL_PHASE_HELD; }
static int carol_connected(struct phones *p) {
  return call_phase(p->carol) == AC_CALL_PHASE_CONNECTED;
}
static int carol_idle(struct phones *p) { return call_count(p->carol) == 0; }

/* alice and carol register to `registrar` (the outbound proxy of their .cfg) as
 * sip:alice@DOMAIN / sip:carol@DOMAIN; alice calls `callee` (a phone that answers by itself and
 * plays a 440 Hz tone), sends DTMF 1 2 3, holds, resumes and blind-transfers it to carol, who
 * answers automatically; carol hangs up. */
static void registrar(const char *proxy, const char *domain, const char *alice_pw,
                      const char *carol_pw, const char *callee) {
  char host[64];
  unsigned port = 0;
  if (sscanf(proxy, "%63[^:]:%u", host, &port) != 2) {
    CHECK(0, "--registrar IP:PORT");
    return;
  }
  char cfg[512];
  snprintf(cfg, sizeof cfg,
           "voip/signalling/sip/sip_outbound_proxy/enabled=1\n"
           "voip/signalling/sip/sip_outbound_proxy/addr=%s\n"
           "voip/signalling/sip/sip_outbound_proxy/port=%u\n",
           host, port);
  char alice_aor[128], carol_aor[128];
  snprintf(alice_aor, sizeof alice_aor, "sip:alice@%s", domain);
  snprintf(carol_aor, sizeof carol_aor, "sip:carol@%s", domain);
  struct board alice, carol;
  struct phones ph = {&alice, NULL, &carol};
  uint16_t rtp = (uint16_t)(20000 + (getpid() % 400) * 100);
  int up = board_start(&alice, "alice", 1000.0, rtp, cfg, alice_aor, "alice", alice_pw) == 0;
  up = board_start(&carol, "carol", 700.0, (uint16_t)(rtp + 40), cfg, carol_aor, "carol",
                   carol_pw) == 0 && up;
  CHECK(up, "two phones created");
  if (!up)
    goto out;
  printf("boot and register to %s\n", proxy);
  CHECK(wait_for(alice_carol_registered, &ph), "alice and carol registered");
  OK(ac_phone_set_feature(carol.phone, AC_PHONE_FEATURE_AUTO_ANSWER, true));

  printf("alice calls %s\n", callee);
  OK(ac_phone_dial(alice.phone, callee, strlen(callee)));
  CHECK(wait_for(alice_connected, &ph), "the callee answered");
  sleep_ms(2000);
  double tone = tone_share(&alice, 440.0, 1.0);
  printf("  alice hears the callee's 440 Hz tone: %.0f%% of her speaker power\n", tone * 100);
  if (!slow)
    CHECK(tone > 0.5, "alice hears the callee");

  printf("alice sends DTMF 1 2 3\n");
  OK(ac_phone_dtmf(alice.phone, '1'));
  sleep_ms(300);
  OK(ac_phone_dtmf(alice.phone, '2'));
  sleep_ms(300);
  OK(ac_phone_dtmf(alice.phone, '3'));
  sleep_ms(500);

  printf("alice holds\n");
  OK(ac_phone_hold(alice.phone));
  CHECK(wait_for(alice_held_only, &ph), "call held");
  printf("alice resumes\n");
  OK(ac_phone_resume(alice.phone));
  CHECK(wait_for(alice_connected, &ph), "call resumed");
  sleep_ms(500);

  printf("alice transfers the callee to %s\n", carol_aor);
  OK(ac_phone_transfer(alice.phone, carol_aor, strlen(carol_aor)));
  CHECK(wait_for(carol_connected, &ph), "the callee and carol connected");
  CHECK(wait_for(alice_idle, &ph), "alice's call ended after the transfer");
  sleep_ms(2000);
  tone = tone_share(&carol, 440.0, 1.0);
  printf("  carol hears the callee's 440 Hz tone: %.0f%%\n", tone * 100);
  if (!slow)
    CHECK(tone > 0.5, "carol hears the callee");

  printf("carol hangs up\n");
  OK(ac_phone_hangup(carol.phone));
  CHECK(wait_for(carol_idle, &ph), "carol idle");

out:
  board_stop(&alice);
  board_stop(&carol);
}

static int alice_registered(struct phones *p) { return registered(p->alice); }

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0)
      break;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* One phone, alice, with its factory configuration: DHCP on `dhcp_if`, the configuration from
 * the provisioning URL the DHCP server gives (HTTPS, trusting `--ca`), registration to the
 * proxy that configuration names, then a call to `callee` (a phone that answers by itself and
 * plays a `callee_hz` tone), DTMF, hold, resume and a blind transfer to `transfer_to`. */
static void dhcp_mode(const char *callee, double callee_hz, const char *transfer_to,
                      const char *expect_codec) {
  struct board alice;
  struct phones ph = {&alice, NULL, NULL};
  int up = board_start(&alice, "alice", 1000.0, 0, "", "sip:alice@example.com", "alice", "") == 0;
  CHECK(up, "phone created");
  if (!up)
    goto out;
  printf("boot: DHCP on %s, provisioning, time, registration\n", dhcp_if);
  CHECK(wait_for(alice_registered, &ph), "registered with the provisioned configuration");
  char addr[64];
  size_t n = 0;
  OK(ac_phone_sip_address(alice.phone, addr, sizeof addr, &n));
  printf("  SIP address from DHCP: %s\n", addr);

  printf("alice calls %s\n", callee);
  OK(ac_phone_dial(alice.phone, callee, strlen(callee)));
  CHECK(wait_for(alice_connected, &ph), "the callee answered");
  char codec[32] = "";
  OK(ac_phone_call_codec(alice.phone, 0, codec, sizeof codec, &n));
  printf("  codec %s\n", codec);
  if (expect_codec != NULL)
    CHECK(strcmp(codec, expect_codec) == 0, "the codec the configuration puts first");
  sleep_ms(1500);
  double tone = tone_share(&alice, callee_hz, 1.0);
  printf("  alice hears the callee's %.0f Hz tone: %.0f%% of her speaker power\n", callee_hz,
         tone * 100);
  if (!slow)
    CHECK(tone > 0.5, "alice hears the callee");

  printf("alice sends DTMF 1 2 3\n");
  OK(ac_phone_dtmf(alice.phone, '1'));
  sleep_ms(300);
  OK(ac_phone_dtmf(alice.phone, '2'));
  sleep_ms(300);
  OK(ac_phone_dtmf(alice.phone, '3'));
  sleep_ms(500);

  printf("alice holds\n");
  OK(ac_phone_hold(alice.phone));
  CHECK(wait_for(alice_held_only, &ph), "call held");
  printf("alice resumes\n");
  OK(ac_phone_resume(alice.phone));
  CHECK(wait_for(alice_connected, &ph), "call resumed");
  sleep_ms(1500);
  tone = tone_share(&alice, callee_hz, 1.0);
  printf("  after resume: %.0f%%\n", tone * 100);
  if (!slow)
    CHECK(tone > 0.5, "alice hears the callee after resume");

  printf("alice transfers the callee to %s\n", transfer_to);
  OK(ac_phone_transfer(alice.phone, transfer_to, strlen(transfer_to)));
  CHECK(wait_for(alice_idle, &ph), "alice's call ended after the transfer");

out:
  board_stop(&alice);
}

int main(int argc, char **argv) {
  const char *proxy = NULL, *domain = "example.com", *alice_pw = "", *carol_pw = "",
             *callee = NULL, *transfer_to = NULL, *expect_codec = NULL;
  double callee_hz = 440.0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
      step_timeout = atof(argv[++i]);
    else if (strcmp(argv[i], "--slow") == 0)
      slow = 1;
    else if (strcmp(argv[i], "--registrar") == 0 && i + 1 < argc)
      proxy = argv[++i];
    else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
      domain = argv[++i];
    else if (strcmp(argv[i], "--alice-password") == 0 && i + 1 < argc)
      alice_pw = argv[++i];
    else if (strcmp(argv[i], "--carol-password") == 0 && i + 1 < argc)
      carol_pw = argv[++i];
    else if (strcmp(argv[i], "--callee") == 0 && i + 1 < argc)
      callee = argv[++i];
    else if (strcmp(argv[i], "--callee-hz") == 0 && i + 1 < argc)
      callee_hz = atof(argv[++i]);
    else if (strcmp(argv[i], "--codec") == 0 && i + 1 < argc)
      expect_codec = argv[++i];
    else if (strcmp(argv[i], "--transfer-to") == 0 && i + 1 < argc)
      transfer_to = argv[++i];
    else if (strcmp(argv[i], "--dhcp") == 0 && i + 1 < argc)
      dhcp_if = argv[++i];
    else if (strcmp(argv[i], "--mac") == 0 && i + 1 < argc) {
      const char *h = argv[++i];
      have_mac = strlen(h) == 12;
      for (int j = 0; have_mac && j < 6; j++) {
        unsigned v;
        have_mac = sscanf(h + 2 * j, "%2x", &v) == 1;
        board_mac[j] = (uint8_t)v;
      }
      if (!have_mac) {
        fprintf(stderr, "--mac: 12 hex digits\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc) {
      ca_pem = read_file(argv[++i], &ca_pem_len);
      if (ca_pem == NULL) {
        fprintf(stderr, "--ca: cannot read %s\n", argv[i]);
        return 2;
      }
    } else {
      fprintf(stderr, "usage: board_demo [--slow] [--timeout S]\n"
                      "  [--registrar IP:PORT --callee URI [--domain D] [--alice-password P] "
                      "[--carol-password P]]\n"
                      "  [--dhcp IFACE [--mac HEX12] [--ca PEM] --callee URI [--callee-hz HZ] "
                      "[--codec NAME] --transfer-to URI]\n");
      return 2;
    }
  }
  printf("board_demo: libac_phone %s (header %d.%d.%d)\n", ac_version(), AC_PHONE_VERSION_MAJOR,
         AC_PHONE_VERSION_MINOR, AC_PHONE_VERSION_PATCH);
  if (dhcp_if != NULL && callee != NULL && transfer_to != NULL)
    dhcp_mode(callee, callee_hz, transfer_to, expect_codec);
  else if (proxy != NULL && callee != NULL)
    registrar(proxy, domain, alice_pw, carol_pw, callee);
  else
    loopback();
  free(ca_pem);
  printf("board_demo: %d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}
