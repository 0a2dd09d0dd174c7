# The package test (label `package`, issue 7): builds the packages from this build tree, installs
# the .deb on the machine (needs root; skipped otherwise), runs and replicates with the installed
# program, then removes and purges it. See package_test.sh.
add_test(NAME tst_package
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/package_test.sh ${CMAKE_BINARY_DIR} $<TARGET_FILE:harmonylite>)
set_tests_properties(tst_package PROPERTIES LABELS package TIMEOUT 300 SKIP_RETURN_CODE 77)
