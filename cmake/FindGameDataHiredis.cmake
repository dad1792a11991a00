# Finds hiredis and, when present, hiredis_ssl (TLS), without pkg-config, so that it works the
# same in this project and, installed beside game_dataConfig.cmake, in a consumer's project.
# Defines the imported targets
#   game_data::hiredis       hiredis (static or shared)
#   game_data::hiredis_ssl   hiredis_ssl, linking game_data::hiredis and game_data::openssl
#   game_data::openssl       libssl + libcrypto (found here too: CMake's FindOpenSSL would
#                            call pkg-config)
# and GameDataHiredis_FOUND, GameDataHiredis_VERSION, GameDataHiredis_ssl_FOUND.
# Search order: GameDataHiredis_ROOT, CMAKE_PREFIX_PATH (./dev puts a TLS-capable hiredis it
# built there on Debian 12), then the system. The component "ssl" may be REQUIRED.
# Our own target names, so that hiredis' own CMake config (hiredis::hiredis, hiredis 1.x) can
# coexist in the same project.
find_path(GameDataHiredis_INCLUDE_DIR hiredis/hiredis.h HINTS ${GameDataHiredis_HINTS})
find_library(GameDataHiredis_LIBRARY NAMES hiredis HINTS ${GameDataHiredis_HINTS})
find_library(GameDataHiredis_SSL_LIBRARY NAMES hiredis_ssl HINTS ${GameDataHiredis_HINTS})
mark_as_advanced(GameDataHiredis_INCLUDE_DIR GameDataHiredis_LIBRARY GameDataHiredis_SSL_LIBRARY)

if(GameDataHiredis_INCLUDE_DIR AND EXISTS "${GameDataHiredis_INCLUDE_DIR}/hiredis/hiredis.h")
  file(STRINGS "${GameDataHiredis_INCLUDE_DIR}/hiredis/hiredis.h" _gd_hiredis_version_lines
       REGEX "^#define HIREDIS_(MAJOR|MINOR|PATCH) [0-9]+")
  set(_gd_hiredis_version "")
  foreach(_part MAJOR MINOR PATCH)
    string(REGEX REPLACE ".*#define HIREDIS_${_part} ([0-9]+).*" "\\1" _v "${_gd_hiredis_version_lines}")
    list(APPEND _gd_hiredis_version "${_v}")
  endforeach()
  list(JOIN _gd_hiredis_version "." GameDataHiredis_VERSION)
endif()

set(GameDataHiredis_ssl_FOUND FALSE)
if(GameDataHiredis_SSL_LIBRARY AND EXISTS "${GameDataHiredis_INCLUDE_DIR}/hiredis/hiredis_ssl.h")
  # hiredis_ssl uses OpenSSL; a static libhiredis_ssl.a needs it on the link line.
  find_path(GameDataHiredis_OPENSSL_INCLUDE_DIR openssl/ssl.h)
  find_library(GameDataHiredis_LIBSSL NAMES ssl)
  find_library(GameDataHiredis_LIBCRYPTO NAMES crypto)
  mark_as_advanced(GameDataHiredis_OPENSSL_INCLUDE_DIR GameDataHiredis_LIBSSL GameDataHiredis_LIBCRYPTO)
  if(GameDataHiredis_OPENSSL_INCLUDE_DIR AND GameDataHiredis_LIBSSL AND GameDataHiredis_LIBCRYPTO)
    set(GameDataHiredis_ssl_FOUND TRUE)
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(GameDataHiredis
  REQUIRED_VARS GameDataHiredis_LIBRARY GameDataHiredis_INCLUDE_DIR
  VERSION_VAR GameDataHiredis_VERSION
  HANDLE_COMPONENTS)

if(GameDataHiredis_FOUND AND NOT TARGET game_data::hiredis)
  add_library(game_data::hiredis UNKNOWN IMPORTED)
  set_target_properties(game_data::hiredis PROPERTIES
    IMPORTED_LOCATION "${GameDataHiredis_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${GameDataHiredis_INCLUDE_DIR}")
endif()
if(GameDataHiredis_FOUND AND GameDataHiredis_ssl_FOUND AND NOT TARGET game_data::hiredis_ssl)
  add_library(game_data::openssl INTERFACE IMPORTED)
  set_target_properties(game_data::openssl PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${GameDataHiredis_OPENSSL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${GameDataHiredis_LIBSSL};${GameDataHiredis_LIBCRYPTO}")
  add_library(game_data::hiredis_ssl UNKNOWN IMPORTED)
  set_target_properties(game_data::hiredis_ssl PROPERTIES
    IMPORTED_LOCATION "${GameDataHiredis_SSL_LIBRARY}"
    INTERFACE_LINK_LIBRARIES "game_data::hiredis;game_data::openssl")
endif()
