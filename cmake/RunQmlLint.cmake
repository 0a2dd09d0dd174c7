# Script mode (cmake -P), run by the ctest test `qmllint` (tests/CMakeLists.txt): runs Qt 6.4's
# qmllint once on every file it is given and fails on any warning.
#   QMLLINT    the qmllint executable
#   ARGS_FILE  its arguments, one a line: import paths (-I), the modules' generated .qrc files
#              (--resource, so that a source file is linted as the module file it becomes) and
#              the QML files
#
# qmllint 6.4 has no --max-warnings: it exits non-zero when a check at level "warning" fires,
# and prints "Warning: file:line:col: ..." for it ("Info: ..." lines are hints that go with a
# warning, or info-level checks, which do not count). Both the exit code and the output are
# checked, so that neither a warning printed with exit code 0 nor a failure without output
# passes. Categories are silenced only line by line in the QML (`// qmllint disable <category>`
# with the reason beside it); no .qmllint.ini turns a category off.
if(NOT QMLLINT OR NOT ARGS_FILE)
  message(FATAL_ERROR "usage: cmake -DQMLLINT=<qmllint> -DARGS_FILE=<file> -P RunQmlLint.cmake")
endif()
file(STRINGS "${ARGS_FILE}" args)
execute_process(COMMAND "${QMLLINT}" ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(report "${out}${err}")
list(FILTER args INCLUDE REGEX "\\.qml$")
list(LENGTH args count)
if(NOT rc EQUAL 0 OR report MATCHES "(^|\n)Warning: ")
  message("${report}")
  message(FATAL_ERROR "qmllint: warnings in the QML (exit code ${rc}), see above")
endif()
if(report)
  message("${report}")
endif()
message(STATUS "qmllint: ${count} QML files, no warning")
