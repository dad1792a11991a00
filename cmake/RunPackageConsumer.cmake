# ctest driver of "package_consumer": the installed C++ package works for a consumer project,
# in each of its forms. Any failing step fails the test.
#   static      this build (libgame_data.a), installed into a scratch prefix; the consumer in
#               tests/package via find_package(game_data CONFIG), then via pkg-config --static
#   shared      a second build of the library alone with BUILD_SHARED_LIBS=ON and GoogleTest
#               hidden (so a plain configure + install must work without it), kept in
#               WORK_DIR/shared-build so that later runs rebuild only what changed; the
#               consumer via find_package, then via pkg-config
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR CXX_COMPILER GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is required")
  endif()
endforeach()
find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config REQUIRED)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# consume(NAME PREFIX): the consumer project with CMake, and main.cpp with pkg-config.
function(consume name prefix)
  set(dir "${WORK_DIR}/${name}")
  run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package" -B "${dir}/cmake" -G "${GENERATOR}"
      "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${prefix}")
  run(${CMAKE_COMMAND} --build "${dir}/cmake")
  run("${dir}/cmake/game_server")
  # pkg-config: game_data.pc in <prefix>/<libdir>/pkgconfig (libdir may be lib64 or lib/<triplet>)
  file(GLOB_RECURSE pc "${prefix}/*/game_data.pc")
  if(NOT pc)
    message(FATAL_ERROR "no game_data.pc installed under ${prefix}")
  endif()
  get_filename_component(pc_dir "${pc}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  set(static_flag "")
  if(name STREQUAL "static")
    set(static_flag "--static")
  endif()
  run(${PKG_CONFIG_EXECUTABLE} --cflags --libs ${static_flag} game_data)
  string(STRIP "${run_output}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  get_filename_component(libdir "${pc_dir}" DIRECTORY)
  run(${CXX_COMPILER} -std=c++20 "${SOURCE_DIR}/tests/package/main.cpp" -o "${dir}/game_server_pc"
      "-DGAME_DATA_PACKAGE_VERSION=\"${version}\"" ${flags} "-Wl,-rpath,${libdir}")
  run("${dir}/game_server_pc")
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}/static" "${WORK_DIR}/shared")
file(STRINGS "${SOURCE_DIR}/CMakeLists.txt" version REGEX "^project\\(game_data VERSION ")
string(REGEX REPLACE ".*VERSION ([0-9.]+).*" "\\1" version "${version}")

# static: this build
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/static/prefix")
file(GLOB_RECURSE shared_libs "${WORK_DIR}/static/prefix/*/libgame_data.so*")
if(shared_libs)
  message(FATAL_ERROR "the static build installed ${shared_libs}")
endif()
consume(static "${WORK_DIR}/static/prefix")
# The example plug-in builds standalone against the installed headers, and the consumer loads it.
file(REMOVE_RECURSE "${WORK_DIR}/memalias")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/plugins/memalias" -B "${WORK_DIR}/memalias" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_PREFIX_PATH=${WORK_DIR}/static/prefix")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/memalias")
run("${WORK_DIR}/static/cmake/game_server" "${WORK_DIR}/memalias/libmemalias_plugin.so")

# shared: the library alone, configured as a user would (tests on by default, GTest missing;
# no build type, so no optimisation: this build only has to link and run, and -O0 is quicker)
set(shared_build "${WORK_DIR}/shared-build")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${shared_build}" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" -DBUILD_SHARED_LIBS=ON
    -DGAME_DATA_BUILD_BENCH=OFF -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON "-DGameDataHiredis_INCLUDE_DIR=${HIREDIS_INCLUDE_DIR}"
    "-DGameDataHiredis_LIBRARY=${HIREDIS_LIBRARY}" "-DGameDataHiredis_SSL_LIBRARY=${HIREDIS_SSL_LIBRARY}")
if(NOT run_output MATCHES "GoogleTest not found, the C\\+\\+ tests are not built")
  message(FATAL_ERROR "configure without GTest did not say the tests are skipped:\n${run_output}")
endif()
run(${CMAKE_COMMAND} --build "${shared_build}")
run(${CMAKE_COMMAND} --install "${shared_build}" --prefix "${WORK_DIR}/shared/prefix")
file(GLOB_RECURSE static_libs "${WORK_DIR}/shared/prefix/*/libgame_data.a")
file(GLOB_RECURSE shared_libs "${WORK_DIR}/shared/prefix/*/libgame_data.so")
if(static_libs OR NOT shared_libs)
  message(FATAL_ERROR "the shared build installed '${static_libs}', not libgame_data.so")
endif()
consume(shared "${WORK_DIR}/shared/prefix")
message(STATUS "package consumer built and ran against the static and shared installs, "
               "with CMake and with pkg-config")
