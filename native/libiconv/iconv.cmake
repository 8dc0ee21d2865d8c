# The npm package bundles libiconv's lib/ and a configured support/ (iconv.h, config.h, a
# localcharset stub) without libiconv's build: this builds libiconv.so.2 as upstream's
# --enable-extra-encodings does (ENABLE_EXTRA: the DOS and other code pages Shapefiles use).
cmake_minimum_required(VERSION 3.16)
project(libiconv VERSION 1.14 LANGUAGES C)
include(GNUInstallDirs)

add_library(iconv SHARED deps/libiconv/lib/iconv.c support/localcharset.c)
target_include_directories(iconv PRIVATE support deps/libiconv/lib)
target_compile_definitions(iconv PRIVATE ICONV_CONST=const ENABLE_EXTRA=1)
# upstream's libtool version 7:1:5 -> libiconv.so.2.5.1
set_target_properties(iconv PROPERTIES VERSION 2.5.1 SOVERSION 2)

install(TARGETS iconv LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES support/iconv.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
