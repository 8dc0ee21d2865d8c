/* libtiff from //native/libtiff: the codecs GDAL's GTiff offers through it, and no JBIG. */
#include <stdio.h>
#include <tiffio.h>

int main(void) {
  const struct { int id; const char *name; } want[] = {
      {COMPRESSION_ADOBE_DEFLATE, "DEFLATE"}, {COMPRESSION_LZW, "LZW"}, {COMPRESSION_JPEG, "JPEG"},
      {COMPRESSION_LZMA, "LZMA"},             {COMPRESSION_ZSTD, "ZSTD"}, {COMPRESSION_WEBP, "WEBP"},
  };
  int failed = 0;
  for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (!TIFFIsCODECConfigured((uint16_t)want[i].id)) {
      fprintf(stderr, "libtiff: codec %s not configured\n", want[i].name);
      failed = 1;
    }
  }
  if (TIFFIsCODECConfigured(COMPRESSION_JBIG)) {
    fprintf(stderr, "libtiff: JBIG (GPL JBIG-KIT) is configured\n");
    failed = 1;
  }
  if (!failed) printf("%s\ncodecs ok\n", TIFFGetVersion());
  return failed;
}
