# Installs the C++ package: headers, libgame_data (static or shared after BUILD_SHARED_LIBS),
# the CMake config (with our own Find module for hiredis, so a consumer's project never calls
# pkg-config) and a pkg-config file game_data.pc. Included from the top-level CMakeLists.txt.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_gd_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/game_data)
install(TARGETS game_data EXPORT game_dataTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY cpp/include/game_data DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES "${PROJECT_BINARY_DIR}/include/game_data/version.hpp"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/game_data)
install(EXPORT game_dataTargets NAMESPACE game_data:: DESTINATION ${_gd_cmake_dir})

# A static libgame_data leaves hiredis to the consumer's link. When hiredis itself is a static
# archive (the TLS-capable one ./dev builds on Debian 12, which no system has), a copy ships
# inside the package, where the installed config and game_data.pc look first.
set(GD_STATIC_LIB OFF)
set(GD_VENDORED_HIREDIS OFF)
get_target_property(_gd_type game_data TYPE)
if(_gd_type STREQUAL "STATIC_LIBRARY")
  set(GD_STATIC_LIB ON)
  if(GameDataHiredis_LIBRARY MATCHES "\\.a$")
    set(GD_VENDORED_HIREDIS ON)
  endif()
endif()
set(_gd_hiredis_dir ${CMAKE_INSTALL_LIBDIR}/game_data/hiredis)
if(GD_VENDORED_HIREDIS)
  install(FILES ${GameDataHiredis_LIBRARY} ${GameDataHiredis_SSL_LIBRARY}
    DESTINATION ${_gd_hiredis_dir}/lib)
  install(DIRECTORY "${GameDataHiredis_INCLUDE_DIR}/hiredis" DESTINATION ${_gd_hiredis_dir}/include)
endif()
set(GD_HAVE_TLS ${GameDataHiredis_ssl_FOUND})
set(GD_HIREDIS_DIR ${_gd_hiredis_dir})
configure_package_config_file(cmake/game_dataConfig.cmake.in
  "${PROJECT_BINARY_DIR}/game_dataConfig.cmake"
  INSTALL_DESTINATION ${_gd_cmake_dir})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/game_dataConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/game_dataConfig.cmake"
  "${PROJECT_BINARY_DIR}/game_dataConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/FindGameDataHiredis.cmake"
  DESTINATION ${_gd_cmake_dir})

# game_data.pc, relocatable: prefix is found from the .pc file's own place (${pcfiledir}).
set(_gd_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH GD_PC_TO_PREFIX "/prefix/${_gd_pc_dir}" "/prefix")
string(REGEX REPLACE "/$" "" GD_PC_TO_PREFIX "${GD_PC_TO_PREFIX}")
set(GD_PC_LIBS_PRIVATE "")
if(GD_VENDORED_HIREDIS)
  string(APPEND GD_PC_LIBS_PRIVATE " -L\${prefix}/${_gd_hiredis_dir}/lib")
endif()
if(GD_HAVE_TLS)
  string(APPEND GD_PC_LIBS_PRIVATE " -lhiredis_ssl -lhiredis -lssl -lcrypto")
else()
  string(APPEND GD_PC_LIBS_PRIVATE " -lhiredis")
endif()
string(APPEND GD_PC_LIBS_PRIVATE " -pthread")
configure_file(cmake/game_data.pc.in "${PROJECT_BINARY_DIR}/game_data.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/game_data.pc" DESTINATION ${_gd_pc_dir})
