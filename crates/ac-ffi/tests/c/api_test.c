/*
 * The C ABI of libac_phone from C: every utility entry point with good and bad input.
 * Built by tests/c_abi.rs with gcc -Wall -Wextra -Werror -std=c11 and the flags of
 * `pkg-config --cflags --libs ac_phone`, and run under valgrind (no leak, no error).
 * Prints "N passed, 0 failed" and exits 0 when every check holds.
 */
#include <ac_phone.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (cond) {                                                                  \
      passed++;                                                                  \
    } else {                                                                     \
      failed++;                                                                  \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                            \
  } while (0)

#define CHECK_RESULT(expr, want)                                                 \
  do {                                                                           \
    ac_result r_ = (expr);                                                       \
    if (r_ == (want)) {                                                          \
      passed++;                                                                  \
    } else {                                                                     \
      char m_[256];                                                              \
      size_t n_ = 0;                                                             \
      failed++;                                                                  \
      if (ac_result_message(r_, m_, sizeof m_, &n_) != AC_RESULT_OK)             \
        strcpy(m_, "?");                                                         \
      fprintf(stderr, "%s:%d: %s gave %u (%s), expected %s\n", __FILE__,         \
              __LINE__, #expr, (unsigned)r_, m_, #want);                         \
    }                                                                            \
  } while (0)

static const char SAMPLE[] =
    "# model: 440HD\n"
    "network/lan_type=DHCP\n"
    "network/lan_typ=DHCP\n"
    "network/lan/dhcp/domain_name/enabled=banana\n";

static void test_version_and_messages(void) {
  char expect[32];
  snprintf(expect, sizeof expect, "%d.%d.%d", AC_PHONE_VERSION_MAJOR,
           AC_PHONE_VERSION_MINOR, AC_PHONE_VERSION_PATCH);
  CHECK(strcmp(ac_version(), expect) == 0);

  char buf[256];
  size_t n = 12345;
  CHECK_RESULT(ac_result_message(AC_RESULT_OK, buf, sizeof buf, &n), AC_RESULT_OK);
  CHECK(n == 7 && strcmp(buf, "success") == 0);
  CHECK_RESULT(ac_result_message(AC_RESULT_CRYPTO_BAD_PADDING, buf, sizeof buf, &n),
               AC_RESULT_OK);
  CHECK(strstr(buf, "wrong key") != NULL && strlen(buf) == n);
  /* Too small: nothing written, n unchanged. */
  n = 12345;
  memset(buf, 'x', sizeof buf);
  CHECK_RESULT(ac_result_message(AC_RESULT_OK, buf, 7, &n), AC_RESULT_INSUFFICIENT_SIZE);
  CHECK(n == 12345 && buf[0] == 'x');
  CHECK_RESULT(ac_result_message(AC_RESULT_OK, NULL, 7, &n), AC_RESULT_NULL_PARAMETER);
  CHECK_RESULT(ac_result_message(AC_RESULT_OK, buf, sizeof buf, NULL),
               AC_RESULT_NULL_PARAMETER);
  CHECK_RESULT(ac_result_message(424242, buf, sizeof buf, &n), AC_RESULT_OK);
  CHECK(strstr(buf, "unknown") != NULL);
}

static void test_cfg(void) {
  struct ac_cfg *cfg = NULL;
  CHECK_RESULT(ac_cfg_parse((const uint8_t *)SAMPLE, strlen(SAMPLE), &cfg), AC_RESULT_OK);
  if (cfg == NULL)
    return;

  /* Lossless emit. */
  size_t len = ac_cfg_emit_len(cfg);
  CHECK(len == strlen(SAMPLE));
  char *text = malloc(len + 1);
  size_t n = 0;
  CHECK_RESULT(ac_cfg_emit(cfg, text, len + 1, &n), AC_RESULT_OK);
  CHECK(n == len && strcmp(text, SAMPLE) == 0);
  CHECK_RESULT(ac_cfg_emit(cfg, text, len, &n), AC_RESULT_INSUFFICIENT_SIZE);
  free(text);

  char v[64];
  const char *key = "network/lan_type";
  CHECK_RESULT(ac_cfg_get(cfg, key, strlen(key), v, sizeof v, &n), AC_RESULT_OK);
  CHECK(strcmp(v, "DHCP") == 0 && n == 4);
  CHECK_RESULT(ac_cfg_get(cfg, "nope", 4, v, sizeof v, &n), AC_RESULT_CFG_KEY_NOT_FOUND);
  CHECK_RESULT(ac_cfg_get(cfg, "\xff", 1, v, sizeof v, &n), AC_RESULT_INVALID_UTF8);
  CHECK_RESULT(ac_cfg_get(NULL, key, strlen(key), v, sizeof v, &n), AC_RESULT_NULL_PARAMETER);
  CHECK_RESULT(ac_cfg_set(cfg, key, strlen(key), "STATIC", 6), AC_RESULT_OK);
  CHECK_RESULT(ac_cfg_get(cfg, key, strlen(key), v, sizeof v, &n), AC_RESULT_OK);
  CHECK(strcmp(v, "STATIC") == 0);
  CHECK_RESULT(ac_cfg_set(cfg, key, strlen(key), "a\nb=c", 5), AC_RESULT_CFG_BAD_VALUE);

  /* Validation for the 440HD: the typo is a warning, "banana" an error on line 4. */
  struct ac_cfg_diagnostics *d = NULL;
  CHECK_RESULT(ac_cfg_validate(cfg, "440HD", 5, 0, &d), AC_RESULT_OK);
  CHECK(ac_cfg_diagnostics_count(d) >= 2);
  CHECK(ac_cfg_diagnostics_error_count(d) == 1);
  int saw_typo = 0, saw_bad = 0;
  for (size_t i = 0; i < ac_cfg_diagnostics_count(d); i++) {
    struct ac_cfg_diagnostic x;
    CHECK_RESULT(ac_cfg_diagnostics_get(d, i, &x), AC_RESULT_OK);
    char *msg = malloc(x.message_len + 1);
    CHECK_RESULT(ac_cfg_diagnostics_message(d, i, msg, x.message_len + 1, &n), AC_RESULT_OK);
    CHECK(n == x.message_len && strlen(msg) == n);
    if (x.kind == AC_CFG_DIAG_UNKNOWN_KEY && x.line == 3 &&
        x.severity == AC_CFG_SEVERITY_WARNING && strstr(msg, "network/lan_type"))
      saw_typo = 1;
    if (x.line == 4 && x.severity == AC_CFG_SEVERITY_ERROR && strstr(msg, "banana"))
      saw_bad = 1;
    free(msg);
  }
  CHECK(saw_typo && saw_bad);
  struct ac_cfg_diagnostic x;
  CHECK_RESULT(ac_cfg_diagnostics_get(d, 1000, &x), AC_RESULT_INDEX_OUT_OF_RANGE);
  ac_cfg_diagnostics_free(d);
  d = NULL;
  CHECK_RESULT(ac_cfg_validate(cfg, "440HD", 5, AC_CFG_VALIDATE_STRICT, &d), AC_RESULT_OK);
  CHECK(ac_cfg_diagnostics_error_count(d) == 2);
  ac_cfg_diagnostics_free(d);
  d = NULL;
  CHECK_RESULT(ac_cfg_validate(cfg, "999HD", 5, 0, &d), AC_RESULT_CFG_UNKNOWN_MODEL);
  CHECK(d == NULL);
  ac_cfg_free(cfg);
  ac_cfg_free(NULL);
  ac_cfg_diagnostics_free(NULL);

  /* Garbage. */
  cfg = NULL;
  const uint8_t bin[] = {'a', '=', 0xff, 0xfe, '\n'};
  CHECK_RESULT(ac_cfg_parse(bin, sizeof bin, &cfg), AC_RESULT_CFG_NOT_UTF8);
  const uint8_t nul[] = {'a', '=', 0, '\n'};
  CHECK_RESULT(ac_cfg_parse(nul, sizeof nul, &cfg), AC_RESULT_CFG_NUL_BYTE);
  CHECK_RESULT(ac_cfg_parse(NULL, 0, &cfg), AC_RESULT_NULL_PARAMETER);
  CHECK(cfg == NULL);

  /* Factory defaults from the schema. */
  CHECK_RESULT(ac_cfg_default_value("440HD", 5, key, strlen(key), v, sizeof v, &n),
               AC_RESULT_OK);
  CHECK(n > 0 && strlen(v) == n);
  CHECK_RESULT(ac_cfg_default_value("440HD", 5, "x/y", 3, v, sizeof v, &n),
               AC_RESULT_CFG_KEY_NOT_FOUND);
}

static void test_crypto(void) {
  const char *pass = "s3cret";
  size_t need = 0, n = 0;
  CHECK_RESULT(ac_cfg_encrypted_len(AC_CFG_CIPHER_CFX, strlen(SAMPLE), &need), AC_RESULT_OK);
  CHECK(need % 8 == 0 && need > strlen(SAMPLE));
  uint8_t *ct = malloc(need);
  CHECK_RESULT(ac_cfg_encrypt(AC_CFG_CIPHER_CFX, (const uint8_t *)SAMPLE, strlen(SAMPLE),
                              (const uint8_t *)pass, strlen(pass), ct, need, &n),
               AC_RESULT_OK);
  CHECK(n == need);
  uint8_t *pt = malloc(need);
  CHECK_RESULT(ac_cfg_decrypt(ct, need, (const uint8_t *)pass, strlen(pass), pt, need, &n),
               AC_RESULT_OK);
  CHECK(n == strlen(SAMPLE) && memcmp(pt, SAMPLE, n) == 0);
  /* Wrong passphrase, truncation, empty passphrase, unknown cipher. */
  ac_result r = ac_cfg_decrypt(ct, need, (const uint8_t *)"other", 5, pt, need, &n);
  CHECK(r == AC_RESULT_CRYPTO_BAD_PADDING || r == AC_RESULT_CRYPTO_NOT_TEXT);
  CHECK_RESULT(ac_cfg_decrypt(ct, need - 3, (const uint8_t *)pass, strlen(pass), pt, need, &n),
               AC_RESULT_CRYPTO_NOT_BLOCK_ALIGNED);
  CHECK_RESULT(ac_cfg_decrypt(ct, need, (const uint8_t *)pass, 0, pt, need, &n),
               AC_RESULT_CRYPTO_BAD_KEY);
  CHECK_RESULT(ac_cfg_encrypted_len(99, 10, &need), AC_RESULT_INVALID_PARAMETER);
  free(ct);
  free(pt);

  char enc[128], dec[128];
  CHECK_RESULT(ac_cfg_encrypt_value("p4ss", 4, (const uint8_t *)pass, strlen(pass), enc,
                                    sizeof enc, &n),
               AC_RESULT_OK);
  CHECK(enc[0] == '{' && enc[n - 1] == '}');
  CHECK_RESULT(ac_cfg_decrypt_value(enc, n, (const uint8_t *)pass, strlen(pass), dec,
                                    sizeof dec, &n),
               AC_RESULT_OK);
  CHECK(strcmp(dec, "p4ss") == 0);
  CHECK_RESULT(ac_cfg_decrypt_value("plain", 5, (const uint8_t *)pass, strlen(pass), dec,
                                    sizeof dec, &n),
               AC_RESULT_CRYPTO_NOT_ENCRYPTED_VALUE);
}

static void test_dhcp(void) {
  char buf[256];
  size_t n = 0;
  const uint8_t routers[] = {10, 0, 0, 1, 10, 0, 0, 2};
  CHECK_RESULT(ac_dhcp_option_decode(3, routers, sizeof routers, buf, sizeof buf, &n),
               AC_RESULT_OK);
  CHECK(strcmp(buf, "10.0.0.1,10.0.0.2") == 0 && n == 17);
  const uint8_t sip[] = {1, 192, 0, 2, 10};
  CHECK_RESULT(ac_dhcp_option_decode(120, sip, sizeof sip, buf, sizeof buf, &n), AC_RESULT_OK);
  CHECK(strcmp(buf, "192.0.2.10") == 0);
  const uint8_t vendor[] = {1, 12, 'M', 'S', '-', 'U', 'C', '-', 'C', 'l', 'i', 'e', 'n', 't',
                            10, 2, 0, 42};
  CHECK_RESULT(ac_dhcp_option_decode(43, vendor, sizeof vendor, buf, sizeof buf, &n),
               AC_RESULT_OK);
  CHECK(strcmp(buf, "uc_identifier=MS-UC-Client\nvoice_vlan=42\n") == 0);
  CHECK(ac_dhcp_option_decoded_max(sizeof vendor) > n);
  const uint8_t bad[] = {0xc0, 0x00};
  CHECK_RESULT(ac_dhcp_option_decode(119, bad, sizeof bad, buf, sizeof buf, &n),
               AC_RESULT_DHCP_OPTION_INVALID);
  CHECK_RESULT(ac_dhcp_option_decode(61, bad, sizeof bad, buf, sizeof buf, &n),
               AC_RESULT_DHCP_OPTION_UNSUPPORTED);
  CHECK_RESULT(ac_dhcp_option_decode(3, routers, sizeof routers, buf, 5, &n),
               AC_RESULT_INSUFFICIENT_SIZE);
  CHECK_RESULT(ac_dhcp_option_decode(3, NULL, 0, buf, sizeof buf, &n), AC_RESULT_NULL_PARAMETER);
}

struct board {
  int displays;
};

static void on_display(void *userdata, ac_display_kind kind, uint32_t call, const char *text,
                       size_t text_len) {
  struct board *b = userdata;
  (void)kind;
  (void)call;
  if (text[text_len] == '\0')
    b->displays++;
}

static void test_phone(void) {
  struct ac_phone_options *opts = NULL;
  CHECK_RESULT(ac_phone_options_new(&opts), AC_RESULT_OK);
  CHECK_RESULT(ac_phone_options_set_static_address(opts, "127.0.0.1", 9), AC_RESULT_OK);
  CHECK_RESULT(ac_phone_options_set_static_address(opts, "localhost", 9),
               AC_RESULT_INVALID_PARAMETER);
  const char *aor = "sip:alice@example.com";
  CHECK_RESULT(ac_phone_options_set_sign_in(opts, aor, strlen(aor), "", 0, "pw", 2),
               AC_RESULT_OK);
  const uint8_t mac[6] = {0x00, 0x90, 0x8f, 0x12, 0x34, 0x56};
  CHECK_RESULT(ac_phone_options_set_mac(opts, mac, sizeof mac), AC_RESULT_OK);
  CHECK_RESULT(ac_phone_options_set_mac(opts, mac, 4), AC_RESULT_INVALID_PARAMETER);

  struct ac_cfg *cfg = NULL;
  CHECK_RESULT(ac_cfg_parse((const uint8_t *)"", 0, &cfg), AC_RESULT_OK);
  struct ac_cfg *bad = NULL;
  const char *bad_text = "network/lan_type=BANANA\n";
  CHECK_RESULT(ac_cfg_parse((const uint8_t *)bad_text, strlen(bad_text), &bad), AC_RESULT_OK);

  struct board b = {0};
  struct ac_phone_callbacks cb;
  memset(&cb, 0, sizeof cb);
  cb.display = on_display;
  struct ac_phone *phone = NULL;
  CHECK_RESULT(ac_phone_new(bad, "440HD", 5, opts, &cb, &b, &phone),
               AC_RESULT_PHONE_CONFIG_INVALID);
  CHECK(phone == NULL);
  CHECK_RESULT(ac_phone_new(cfg, "440HD", 5, opts, &cb, &b, &phone), AC_RESULT_OK);
  /* The phone copied what it needs. */
  ac_cfg_free(cfg);
  ac_cfg_free(bad);
  ac_phone_options_free(opts);
  if (phone == NULL)
    return;

  CHECK_RESULT(ac_phone_key(phone, AC_KEY_DIGIT_1, AC_KEY_PRESSED), AC_RESULT_OK);
  CHECK_RESULT(ac_phone_key(phone, AC_KEY_DIGIT_1, AC_KEY_RELEASED), AC_RESULT_OK);
  CHECK_RESULT(ac_phone_key(phone, 12345, AC_KEY_PRESSED), AC_RESULT_INVALID_PARAMETER);
  CHECK_RESULT(ac_phone_hook(phone, AC_HOOK_OFF_HOOK), AC_RESULT_OK);
  CHECK_RESULT(ac_phone_hook(phone, AC_HOOK_ON_HOOK), AC_RESULT_OK);
  CHECK_RESULT(ac_phone_dtmf(phone, 'x'), AC_RESULT_INVALID_PARAMETER);

  int16_t capture[AC_PHONE_FRAME_SAMPLES], playback[AC_PHONE_FRAME_SAMPLES];
  for (size_t i = 0; i < AC_PHONE_FRAME_SAMPLES; i++)
    capture[i] = (int16_t)(i * 100);
  CHECK_RESULT(ac_phone_audio_capture(phone, capture, AC_PHONE_FRAME_SAMPLES, playback,
                                      AC_PHONE_FRAME_SAMPLES),
               AC_RESULT_OK);
  CHECK_RESULT(ac_phone_audio_capture(phone, capture, 80, playback, AC_PHONE_FRAME_SAMPLES),
               AC_RESULT_INVALID_PARAMETER);

  struct ac_phone_status st;
  CHECK_RESULT(ac_phone_status_get(phone, &st), AC_RESULT_OK);
  CHECK(st.stage <= AC_BOOT_STAGE_READY);
  struct ac_phone_call call;
  CHECK_RESULT(ac_phone_call_get(phone, 99, &call), AC_RESULT_INDEX_OUT_OF_RANGE);
  ac_phone_free(phone);
  ac_phone_free(NULL);
}

int main(void) {
  test_version_and_messages();
  test_cfg();
  test_crypto();
  test_dhcp();
  test_phone();
  printf("api_test: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
