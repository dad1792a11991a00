# Per-target sanitizer flags; never global. GAME_DATA_SANITIZE is a comma-separated list of
# sanitizers (address, undefined, leak, thread), empty = none. Every finding is fatal
# (-fno-sanitize-recover=all), so a sanitized test run fails on the first report.
set(GAME_DATA_SANITIZE "" CACHE STRING
  "Sanitizers for the library and its tests, e.g. address,undefined (empty: none)")

if(GAME_DATA_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "GAME_DATA_SANITIZE needs GCC or Clang")
  endif()
  string(REPLACE "," ";" _gd_sanitizers "${GAME_DATA_SANITIZE}")
  foreach(_gd_sanitizer IN LISTS _gd_sanitizers)
    if(NOT _gd_sanitizer MATCHES "^(address|undefined|leak|thread)$")
      message(FATAL_ERROR "GAME_DATA_SANITIZE: unknown sanitizer '${_gd_sanitizer}' "
                          "(address, undefined, leak, thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _gd_sanitizers AND ("address" IN_LIST _gd_sanitizers OR "leak" IN_LIST _gd_sanitizers))
    message(FATAL_ERROR "GAME_DATA_SANITIZE: thread cannot be combined with address or leak")
  endif()
endif()

# Compiles `target` with the sanitizers of GAME_DATA_SANITIZE and links their runtimes: PRIVATE
# for executables and shared modules, INTERFACE for a static library (whoever links it needs
# the runtime). No-op when GAME_DATA_SANITIZE is empty.
function(game_data_set_sanitizers target)
  if(NOT GAME_DATA_SANITIZE)
    return()
  endif()
  set(_flag "-fsanitize=${GAME_DATA_SANITIZE}")
  target_compile_options(${target} PRIVATE ${_flag} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "STATIC_LIBRARY")
    target_link_options(${target} INTERFACE ${_flag})
  else()
    target_link_options(${target} PRIVATE ${_flag})
  endif()
endfunction()
