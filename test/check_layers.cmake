# The layering check: every #include "dir/file.h" in a room must point at the
# same room or one before it in FP_LAYERS (the root CMakeLists.txt), and the
# pure core includes no I/O, JSON, HTTP or lock headers.
#   cmake -DFP_SOURCE_DIR=<repo> -DFP_LAYERS=scoring,cache,... -P test/check_layers.cmake
# (ctest runs it as the test `layering`, with the list from CMakeLists.txt).
# Exits non-zero, naming each offending line, when one does not.
if(NOT FP_SOURCE_DIR OR NOT FP_LAYERS)
  message(FATAL_ERROR "usage: cmake -DFP_SOURCE_DIR=... -DFP_LAYERS=... -P check_layers.cmake")
endif()

string(REPLACE "," ";" FP_LAYERS "${FP_LAYERS}")

# The room of a repository-relative path: the longest layer that is a prefix
# of its directory (extender/server/x.h is in extender/server, not extender).
function(room_of path out)
  get_filename_component(dir ${path} DIRECTORY)
  set(best "")
  set(best_index -1)
  set(i 0)
  foreach(layer ${FP_LAYERS})
    if(dir STREQUAL layer)
      set(best ${layer})
      set(best_index ${i})
    endif()
    math(EXPR i "${i} + 1")
  endforeach()
  set(${out} ${best_index} PARENT_SCOPE)
endfunction()

# Headers the pure core must not include (scoring: no I/O, no locks, no JSON).
set(scoring_banned "jansson.h" "curl/curl.h" "microhttpd.h" "yaml.h" "pthread.h" "gio/gio.h"
                   "stdio.h" "fcntl.h" "unistd.h")

set(violations 0)
foreach(layer ${FP_LAYERS})
  file(GLOB files ${FP_SOURCE_DIR}/${layer}/*.c ${FP_SOURCE_DIR}/${layer}/*.h)
  list(FIND FP_LAYERS ${layer} self)
  foreach(file ${files})
    file(RELATIVE_PATH rel ${FP_SOURCE_DIR} ${file})
    file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
    foreach(line ${lines})
      if(line MATCHES "#[ \t]*include[ \t]*\"([^\"]+)\"")
        set(target ${CMAKE_MATCH_1})
        room_of(${target} other)
        if(other GREATER self)
          list(GET FP_LAYERS ${other} other_name)
          message(SEND_ERROR "${rel}: includes ${target}, but ${layer} may not use ${other_name}"
                             " (layers, lowest first: ${FP_LAYERS})")
          math(EXPR violations "${violations} + 1")
        endif()
      endif()
      if(layer STREQUAL "scoring" AND line MATCHES "#[ \t]*include[ \t]*<([^>]+)>")
        list(FIND scoring_banned ${CMAKE_MATCH_1} banned)
        if(NOT banned EQUAL -1)
          message(SEND_ERROR "${rel}: includes <${CMAKE_MATCH_1}>; scoring is pure (no I/O, locks, JSON)")
          math(EXPR violations "${violations} + 1")
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()
if(violations GREATER 0)
  message(FATAL_ERROR "layering: ${violations} include(s) point up a layer")
endif()
message(STATUS "layering: every include points down or within its room")
