# Installer packages (issue 7): a Debian package, a .tar.gz and, where `rpmbuild` exists, an
# RPM of the `harmonylite` program with what the production deployment guide sets up by hand:
# the default /etc/harmonylite/config.toml, the systemd unit, the journald drop-in, the
# `harmonylite` user and directories (maintainer scripts), a desktop entry and the docs.
# `make package` builds them into <build dir>/packages; docs/operations.md is the user's side.
#
# Layout: the program and data files below the package prefix /usr; the conffiles in /etc and
# the unit in /lib/systemd/system (Debian 12's unit directory, as debhelper uses there) are
# absolute destinations. CPACK_SET_DESTDIR keeps those inside the staging directory for every
# generator (without it the archive generator would write to the real /etc).

set(HL_PKG_DIR ${CMAKE_CURRENT_LIST_DIR})
set(HL_RES_DIR ${PROJECT_SOURCE_DIR}/resources)
set(HL_DEB_REVISION 1)
set(HL_DEB_VERSION ${PROJECT_VERSION}-${HL_DEB_REVISION})

# --- files --------------------------------------------------------------------------------
# The harmonylite target installs itself to bin (app/CMakeLists.txt).
install(FILES ${HL_RES_DIR}/config.toml DESTINATION /etc/harmonylite)
install(FILES ${HL_PKG_DIR}/harmonylite.service DESTINATION /lib/systemd/system)
install(FILES ${HL_PKG_DIR}/journald.conf DESTINATION /etc/systemd/journald.conf.d
        RENAME harmonylite.conf)
install(FILES ${HL_RES_DIR}/harmonylite.desktop DESTINATION share/applications)
install(FILES ${HL_RES_DIR}/harmonylite.svg DESTINATION share/icons/hicolor/scalable/apps)

# PNG sizes of the icon, rendered from the SVG at install time (so no build target is needed).
set(HL_ICON_SIZES 32 48 64 128 256)
find_program(HL_RSVG_CONVERT rsvg-convert)
if(HL_RSVG_CONVERT)
  install(CODE "
    foreach(size ${HL_ICON_SIZES})
      set(dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/icons/hicolor/\${size}x\${size}/apps\")
      file(MAKE_DIRECTORY \"\${dir}\")
      execute_process(COMMAND \"${HL_RSVG_CONVERT}\" -w \${size} -h \${size}
                              -o \"\${dir}/harmonylite.png\" \"${HL_RES_DIR}/harmonylite.svg\"
                      RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR \"rsvg-convert failed to render the \${size} px icon\")
      endif()
      file(CHMOD \"\${dir}/harmonylite.png\" PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endforeach()")
else()
  message(STATUS "rsvg-convert not found: the packages ship the SVG icon only")
  set(HL_ICON_SIZES "")
endif()

# Docs: /usr/share/doc/harmonylite with the DEP-5 copyright file and the Debian changelog, and
# the man page; compressed the way lintian wants (gzip -9n: no name, no time stamp).
configure_file(${HL_PKG_DIR}/changelog.Debian.in ${CMAKE_BINARY_DIR}/installer/changelog.Debian @ONLY)
configure_file(${HL_PKG_DIR}/harmonylite.1 ${CMAKE_BINARY_DIR}/installer/harmonylite.1 COPYONLY)  # (re-gzipped when edited)
foreach(f changelog.Debian harmonylite.1)
  execute_process(COMMAND gzip -9nc ${CMAKE_BINARY_DIR}/installer/${f}
                  OUTPUT_FILE ${CMAKE_BINARY_DIR}/installer/${f}.gz COMMAND_ERROR_IS_FATAL ANY)
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${HL_PKG_DIR}/copyright
              ${CMAKE_BINARY_DIR}/installer/changelog.Debian.gz
              ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/docs/configuration.md
              ${PROJECT_SOURCE_DIR}/docs/replication.md ${PROJECT_SOURCE_DIR}/docs/dashboard.md
              ${PROJECT_SOURCE_DIR}/docs/snapshots.md
        DESTINATION share/doc/harmonylite)
install(FILES ${CMAKE_BINARY_DIR}/installer/harmonylite.1.gz DESTINATION share/man/man1)
install(FILES ${HL_PKG_DIR}/lintian-overrides DESTINATION share/lintian/overrides RENAME harmonylite)

# --- CPack ---------------------------------------------------------------------------------
set(CPACK_PACKAGE_NAME harmonylite)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "HarmonyLite C++ edition contributors")
set(CPACK_PACKAGE_CONTACT "HarmonyLite C++ edition contributors <harmonylite@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "leaderless SQLite replication over NATS JetStream")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "HarmonyLite replicates SQLite databases between nodes through NATS\n"
    "JetStream, leaderless and eventually consistent, wire-compatible with the\n"
    "Go HarmonyLite. Applications keep writing to their own SQLite file; every\n"
    "committed change is captured with triggers, published and applied on the\n"
    "other nodes. The package runs it as a systemd service (user harmonylite,\n"
    "configuration in /etc/harmonylite) with an embedded nats-server by default,\n"
    "serving a health endpoint and Prometheus metrics; with a display,\n"
    "harmonylite opens its dashboard.")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/wongfei2009/harmonylite")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_GENERATOR "")

# The Debian architecture the packages are for: the build machine's, or the cross build's
# (cmake/toolchains, docs/cross-building.md). It names both the .deb and the .tar.gz:
# harmonylite_<version>-<revision>_<arch>.
if(NOT HL_DEB_ARCH)
  execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE HL_DEB_ARCH
                  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
endif()
# (CPACK_PACKAGE_FILE_NAME: only the archive uses it, the .deb and .rpm have their own defaults.)
set(CPACK_PACKAGE_FILE_NAME harmonylite_${HL_DEB_VERSION}_${HL_DEB_ARCH})

set(CPACK_GENERATOR DEB TGZ)
find_program(HL_RPMBUILD rpmbuild)
if(HL_RPMBUILD AND NOT CMAKE_CROSSCOMPILING)  # (rpmbuild builds for the machine it runs on)
  list(APPEND CPACK_GENERATOR RPM)
endif()

# Debian. Depends = the shared libraries (dpkg-shlibdeps) + what a library scan cannot see:
# the broker the embedded mode starts, Qt's platform plugins, the dashboard's QML modules and
# libcurl, which the engine loads only when a remote snapshot store needs it
# (engine/src/snapshot/curl_library.h).
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${HL_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${HL_DEB_ARCH})
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Cross-built: dpkg-shlibdeps reads the program with the target's objdump and looks its libraries
# up among the target's packages (installed by install-deps.sh --cross) when DEB_HOST_ARCH names
# the target; cpack runs this file first.
if(CMAKE_CROSSCOMPILING)
  file(WRITE ${CMAKE_BINARY_DIR}/installer/cpack-cross.cmake
       "set(ENV{DEB_HOST_ARCH} ${HL_DEB_ARCH})\n")
  set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/installer/cpack-cross.cmake)
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "adduser, nats-server, libcurl4 (>= 7.75), qt6-qpa-plugins, qml6-module-qtqml, qml6-module-qtqml-workerscript, qml6-module-qtquick, qml6-module-qtquick-controls, qml6-module-qtquick-templates, qml6-module-qtquick-layouts, qml6-module-qtquick-window, qml6-module-qtquick-dialogs, qml6-module-qt-labs-folderlistmodel, qml6-module-qtcharts")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "sqlite3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${HL_PKG_DIR}/conffiles ${HL_PKG_DIR}/postinst ${HL_PKG_DIR}/prerm ${HL_PKG_DIR}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# RPM (built because Debian's rpm package can; the same maintainer scripts, which also take
# RPM's numeric arguments). Requires come from RPM's own library scan.
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE ${HL_DEB_REVISION})
set(CPACK_RPM_PACKAGE_LICENSE MIT)
set(CPACK_RPM_PACKAGE_GROUP "Applications/Databases")
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_PACKAGE_REQUIRES "nats-server, libcurl")
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${HL_PKG_DIR}/postinst)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${HL_PKG_DIR}/prerm)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${HL_PKG_DIR}/postrm)
# CPack would mark every file with an absolute destination %config: the unit is not one.
set(CPACK_RPM_USER_FILELIST
    "%config(noreplace) /etc/harmonylite/config.toml"
    "%config(noreplace) /etc/systemd/journald.conf.d/harmonylite.conf"
    "%attr(0644,root,root) /lib/systemd/system/harmonylite.service")
# Directories other packages own.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /etc/systemd /etc/systemd/journald.conf.d /lib /lib/systemd /lib/systemd/system
    /usr/share/applications /usr/share/man /usr/share/man/man1 /usr/share/lintian
    /usr/share/lintian/overrides /usr/share/icons /usr/share/icons/hicolor)
foreach(size IN LISTS HL_ICON_SIZES)
  list(APPEND CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
       /usr/share/icons/hicolor/${size}x${size} /usr/share/icons/hicolor/${size}x${size}/apps)
endforeach()
list(APPEND CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
     /usr/share/icons/hicolor/scalable /usr/share/icons/hicolor/scalable/apps)

include(CPack)
