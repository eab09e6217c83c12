# Proves that the protocol core reaches no header outside the standard library:
# every source is preprocessed with -M and each header it pulls in must be
# either our own or a C/C++ standard header. Boost, Asio, OpenSSL, sockets,
# threads and clocks-by-syscall are named explicitly so the message is clear.
#
# Inputs: CXX, SOURCE_DIR (the repository), SOURCES (;-list), INCLUDE_DIRS
# (;-list of -I directories), ALLOWED_DIRS (;-list of folders of ours whose
# headers may be reached), ALLOW_JSON (nlohmann/json may be reached: the
# simulator reads scenarios and writes reports with it, still pure).
set(forbidden
  "/boost/" "asio" "/openssl/" "sys/socket\\.h" "netinet/" "arpa/inet\\.h" "netdb\\.h"
  "sys/epoll\\.h" "poll\\.h" "/c\\+\\+/[0-9]+/thread$" "/c\\+\\+/[0-9]+/mutex$"
  "/c\\+\\+/[0-9]+/future$" "/c\\+\\+/[0-9]+/condition_variable$" "nlohmann" "gtest" "rapidcheck")
if(ALLOW_JSON)
  list(REMOVE_ITEM forbidden "nlohmann")
endif()
set(failures "")
set(include_flags "")
foreach(dir IN LISTS INCLUDE_DIRS)
  list(APPEND include_flags "-I${dir}")
endforeach()
foreach(src IN LISTS SOURCES)
  execute_process(
    COMMAND ${CXX} -std=c++20 -M ${include_flags} ${src}
    OUTPUT_VARIABLE deps RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "preprocessing ${src} failed: ${err}")
  endif()
  string(REPLACE "\\\n" " " deps "${deps}")
  string(REGEX REPLACE "^[^:]*:" "" deps "${deps}")
  separate_arguments(headers UNIX_COMMAND "${deps}")
  foreach(h IN LISTS headers)
    get_filename_component(h "${h}" ABSOLUTE BASE_DIR "${SOURCE_DIR}/protocol")
    foreach(bad IN LISTS forbidden)
      if(h MATCHES "${bad}")
        list(APPEND failures "${src} reaches ${h}")
      endif()
    endforeach()
    set(ours FALSE)
    foreach(dir IN LISTS ALLOWED_DIRS)
      if(h MATCHES "^${SOURCE_DIR}/${dir}/")
        set(ours TRUE)
      endif()
    endforeach()
    if(NOT ours AND NOT h MATCHES "^/usr/(lib|include)/")
      list(APPEND failures "${src} reaches ${h}, outside ${ALLOWED_DIRS} and the system headers")
    endif()
  endforeach()
endforeach()
if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "a pure library must include only the standard library:\n  ${text}")
endif()
list(LENGTH SOURCES n)
message(STATUS "purity: ${n} sources include only the standard library")
