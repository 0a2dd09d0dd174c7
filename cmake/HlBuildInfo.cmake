# Generates build_info.h with the version from `git describe`, the commit and the build date.
# It runs at every build (not only at configure time) and rewrites the header only when its
# content changes, so an unchanged tree does not rebuild.
set(HL_BUILDINFO_DIR "${CMAKE_BINARY_DIR}/generated")
add_custom_target(hl_buildinfo ALL
  COMMAND ${CMAKE_COMMAND}
          -DSRC=${CMAKE_SOURCE_DIR}
          -DOUT=${HL_BUILDINFO_DIR}/harmonylite/build_info.h
          -DFALLBACK_VERSION=${PROJECT_VERSION}
          -P ${CMAKE_SOURCE_DIR}/cmake/WriteBuildInfo.cmake
  BYPRODUCTS ${HL_BUILDINFO_DIR}/harmonylite/build_info.h
  COMMENT "Stamping version and commit")
