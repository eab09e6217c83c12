# Fails when a C++ file of ours is not formatted as .clang-format says.
file(GLOB_RECURSE files
  ${SOURCE_DIR}/protocol/*.cpp ${SOURCE_DIR}/protocol/*.hpp
  ${SOURCE_DIR}/tools/*.cpp ${SOURCE_DIR}/tools/*.hpp
  ${SOURCE_DIR}/bench/*.cpp ${SOURCE_DIR}/fuzz/*.cpp ${SOURCE_DIR}/fuzz/*.hpp
  ${SOURCE_DIR}/cmake/*.cpp)
execute_process(COMMAND ${CLANG_FORMAT} --dry-run -Werror ${files}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "clang-format differences (run tools/format):\n${err}")
endif()
list(LENGTH files n)
message(STATUS "clang-format: ${n} files clean")
