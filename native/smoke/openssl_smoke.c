/* OpenSSL from //native/openssl: the 3.5 line at run time, a TLS client context and a SHA-256. */
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdio.h>

int main(void) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  unsigned long v = OpenSSL_version_num();
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (v < 0x30500000UL || v >= 0x30600000UL) {
    fprintf(stderr, "openssl: %s is not 3.5\n", OpenSSL_version(OPENSSL_VERSION));
    return 1;
  }
  if (ctx == NULL || !EVP_Digest("abc", 3, md, &len, EVP_sha256(), NULL) || len != 32 || md[0] != 0xba) {
    fprintf(stderr, "openssl: TLS context or SHA-256 failed\n");
    return 1;
  }
  SSL_CTX_free(ctx);
  printf("%s ok\n", OpenSSL_version(OPENSSL_VERSION));
  return 0;
}
