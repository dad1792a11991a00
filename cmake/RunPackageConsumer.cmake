# ctest driver: install this build into a scratch prefix, then configure, build and run the
# consumer project in tests/package against it. Any failing step fails the test.
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK_DIR}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package" -B "${WORK_DIR}/build"
    "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
# The example plug-in builds standalone against the installed headers, and the consumer loads it.
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/examples/plugins/memalias" -B "${WORK_DIR}/memalias"
    "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/memalias")
run("${WORK_DIR}/build/game_server" "${WORK_DIR}/memalias/libmemalias_plugin.so")
message(STATUS "package consumer built and ran against ${WORK_DIR}/prefix")
