# lint.cmake: the CTest docs.man. Each page in PAGES (comma-separated) must exist in DIR, and
# neither groff (every warning on) nor man may say anything about it.
cmake_minimum_required(VERSION 3.18)
string(REPLACE "," ";" pages "${PAGES}")
set(failed 0)
foreach(page ${pages})
  set(file ${DIR}/${page})
  if(NOT EXISTS ${file})
    message(FATAL_ERROR "${file} was not built: scdoc was missing when cmake ran; install it "
                        "(scripts/install-deps, or apt-get install scdoc), run cmake again and "
                        "build")
  endif()
  execute_process(COMMAND groff -man -ww -z ${file} OUTPUT_VARIABLE out ERROR_VARIABLE err
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT "${out}${err}" STREQUAL "")
    message(SEND_ERROR "groff -man -ww -z ${page} (exit ${rc}):\n${out}${err}")
    set(failed 1)
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E env MANWIDTH=80 man --warnings -E UTF-8 -l ${file}
                  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT "${err}" STREQUAL "" OR "${out}" STREQUAL "")
    message(SEND_ERROR "man --warnings -l ${page} (exit ${rc}):\n${err}")
    set(failed 1)
  endif()
  string(REGEX MATCH "^[^\n]*" first "${out}")
  message(STATUS "${page}: ${first}")
endforeach()
if(failed)
  message(FATAL_ERROR "the manual pages above have warnings")
endif()
