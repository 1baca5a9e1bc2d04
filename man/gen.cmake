# gen.cmake: one generated file, run by the build as cmake -DMODE=... -P gen.cmake.
#   MODE=page:   SRC (scdoc) to the manual page OUT; with TABLE (server or client), the line
#                @OPTIONS@ of SRC becomes what CONFDOC writes from that option table.
#   MODE=sample: the sample configuration of TABLE, from CONFDOC, to OUT.
cmake_minimum_required(VERSION 3.18)

function(confdoc what result)
  execute_process(COMMAND ${CONFDOC} ${what} ${TABLE} OUTPUT_VARIABLE text
                  ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "confdoc ${what} ${TABLE} failed (${rc}): ${err}")
  endif()
  set(${result} "${text}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "sample")
  confdoc(sample text)
  file(WRITE ${OUT} "${text}")
  return()
endif()

file(READ ${SRC} text)
if(TABLE)
  string(FIND "${text}" "\n@OPTIONS@\n" at)
  if(at LESS 0)
    message(FATAL_ERROR "${SRC} has no line @OPTIONS@ for the option list")
  endif()
  confdoc(scdoc options)
  string(REPLACE "\n@OPTIONS@\n" "\n${options}" text "${text}")
endif()
file(WRITE ${OUT}.scd "${text}")
execute_process(COMMAND ${SCDOC} INPUT_FILE ${OUT}.scd OUTPUT_FILE ${OUT}.tmp
                ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "scdoc failed on ${SRC}: ${err}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
