/*
 * A caller that forgets ac_cfg_free: tests/c_abi.rs checks that the valgrind run of the C
 * tests would catch it (the leak check can fail).
 */
#include <ac_phone.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  static const char text[] = "network/lan_type=DHCP\n";
  struct ac_cfg *cfg = NULL;
  if (ac_cfg_parse((const uint8_t *)text, strlen(text), &cfg) != AC_RESULT_OK)
    return 2;
  printf("parsed, not freed\n");
  return 0;
}
