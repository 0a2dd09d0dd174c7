# Script mode (cmake -P): clang-format-14 over every C++ file git tracks (*.h, *.cpp), with the
# style in .clang-format. Run by the ctest test `format` and by `make format` / `make format-check`.
#   MODE        check (default): report, fail if a file is not formatted (--dry-run --Werror)
#               fix: format the files in place
#   SOURCE_DIR  the repository (default: the folder above this script)
# Generated files are not tracked (moc, rcc, qmlcachegen and build_info.h output go to the build
# folder); the pattern below still leaves out any that would be added by mistake.
if(NOT MODE)
  set(MODE check)
endif()
if(NOT SOURCE_DIR)
  get_filename_component(SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()
set(generated "(^|/)(moc_[^/]*|qrc_[^/]*|ui_[^/]*\\.h|build_info\\.h)$|_autogen/")

find_program(CLANG_FORMAT NAMES clang-format-14)
if(NOT CLANG_FORMAT)
  message(FATAL_ERROR "clang-format-14 not found: run scripts/install-deps.sh")
endif()
find_package(Git QUIET)
if(NOT GIT_FOUND)
  message(FATAL_ERROR "git not found: the files to format are the ones git tracks")
endif()

execute_process(COMMAND "${GIT_EXECUTABLE}" -c core.quotePath=off ls-files -- "*.h" "*.cpp"
                WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE listing)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "git ls-files failed in ${SOURCE_DIR}")
endif()
string(REPLACE "\n" ";" listing "${listing}")
set(files)
foreach(f IN LISTS listing)
  if(f AND NOT f MATCHES "${generated}" AND EXISTS "${SOURCE_DIR}/${f}")  # not deleted meanwhile
    list(APPEND files "${f}")
  endif()
endforeach()
list(LENGTH files count)
if(count EQUAL 0)
  message(FATAL_ERROR "no C++ file found in ${SOURCE_DIR}")
endif()

if(MODE STREQUAL "fix")
  set(flags -i)
elseif(MODE STREQUAL "check")
  set(flags --dry-run --Werror)
else()
  message(FATAL_ERROR "MODE is check or fix, not ${MODE}")
endif()
execute_process(COMMAND "${CLANG_FORMAT}" --style=file ${flags} ${files}
                WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE rc ERROR_VARIABLE report)
if(NOT rc EQUAL 0)
  message("${report}")
  # The files named in the report, once each, after its (long) list of places.
  string(REGEX MATCHALL "(^|\n)[^\n:]+\\.(h|cpp):[0-9]+:[0-9]+: (error|warning):" places "${report}")
  set(bad)
  foreach(p IN LISTS places)
    string(REGEX REPLACE "^\n?([^:]+):.*" "\\1" p "${p}")
    list(APPEND bad "${p}")
  endforeach()
  list(REMOVE_DUPLICATES bad)
  list(LENGTH bad nbad)
  list(JOIN bad "\n  " bad)
  message(FATAL_ERROR "clang-format: ${nbad} of ${count} files are not formatted as "
                      ".clang-format says:\n  ${bad}\n`make format` formats them in place.")
endif()
message(STATUS "clang-format (${MODE}): ${count} files, ${CLANG_FORMAT}")
