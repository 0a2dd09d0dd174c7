#!/usr/bin/env bash
# The package test (ctest label `package`, issue 7). From the build tree it builds the packages
# with CPack, checks their contents, control fields and lintian; installs the .deb on this
# machine; runs the installed program the way the unit does (its ExecStart, User,
# WorkingDirectory, LimitNOFILE, the service environment) on a copy of the packaged config
# pointed at a test database and an embedded NATS server, and sees it replicate both ways with
# a second node (the build-tree program); runs the guide's own ExecStart line with no display;
# verifies the unit with systemd-analyze; reinstalls, removes and purges the package and checks
# what remains. Everything it installs or creates is removed at the end, failed or not.
#
# Needs root (it installs a package) and exits 77 (skipped) without it, or when harmonylite is
# already on this machine and not left there by an earlier run of this test (it would be
# purged). A run killed half-way leaves $STATE behind; the next run then cleans up first.
# Usage: package_test.sh <build dir> <build-tree harmonylite program>
# shellcheck disable=SC2154  # the port variables are assigned by alloc_port (printf -v)
set -euo pipefail

BUILD_DIR=$(realpath "$1")
NODE_BIN=$(realpath "$2")
STATE=/var/tmp/harmonylite-package-test.state
UNIT=/lib/systemd/system/harmonylite.service
CONFIG=/etc/harmonylite/config.toml
LINK=/usr/local/bin/harmonylite
SERVICE_DIRS=(/etc/harmonylite /var/lib/harmonylite /var/log/harmonylite)
QML_MODULES=(qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-templates
  qml6-module-qtquick-layouts qml6-module-qtquick-window qml6-module-qtquick-dialogs
  qml6-module-qtqml-workerscript qml6-module-qtcharts)
export DEBIAN_FRONTEND=noninteractive

exec 9>&2  # fail() reaches the log even from a check whose output wait_for discards
fail() { echo "FAIL: $*" >&9; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
START=$SECONDS
step() { echo "== [$((SECONDS - START))s] $*"; }

# wait_for <seconds> <what> <command...>: runs the command until it succeeds, or fails the test.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}

# alloc_port <var>: a loopback port nothing listens on, different from the ones taken before,
# below the kernel's ephemeral range: the outgoing connections of tests running in parallel
# take their local ports from that range, and one of them holding the port made a node's
# listen fail ("address in use") in a CI-like run.
declare -A TAKEN_PORTS=()
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range
((EPHEMERAL_LOW > 12000)) || EPHEMERAL_LOW=32768
alloc_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
    [[ -z ${TAKEN_PORTS[$p]:-} ]] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      TAKEN_PORTS[$p]=1
      printf -v "$1" %d "$p"
      return
    fi
  done
}

package_status() { dpkg-query -W -f='${db:Status-Abbrev}' harmonylite 2>/dev/null || true; }

# --- the processes this test starts (killed by pid, never by name) ---------------------------
PIDS=()
# stop_pids <pid>...: SIGTERM to each, up to 30 s for all to exit, then SIGKILL; their exit
# codes in STOP_RCS (a node takes some seconds to stop its embedded nats-server).
STOP_RCS=()
stop_pids() {
  local pid rc end=$((SECONDS + 30))
  kill -TERM "$@" 2>/dev/null || true
  STOP_RCS=()
  for pid; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    STOP_RCS+=("$rc")
  done
}
# running <log> <pid>: the node says it runs; fails at once when it exited instead.
running() {
  kill -0 "$2" 2>/dev/null || fail "the node (pid $2) exited: $(tail -n 20 "$1")"
  grep -q "running headless" "$1"
}

# Puts the machine back as this test found it: no package, user, directories or state file.
restore_machine() {
  if [[ $(package_status) =~ ^.[^n] ]]; then
    apt-get purge -y -q harmonylite >/dev/null 2>&1 || dpkg --purge harmonylite >/dev/null
  fi
  rm -rf "${SERVICE_DIRS[@]}"  # created by this test's install: checked before installing
  if [[ $(readlink "$LINK") == /usr/bin/harmonylite ]]; then rm -f "$LINK"; fi
  if getent passwd harmonylite >/dev/null; then userdel harmonylite; fi
  if getent group harmonylite >/dev/null; then groupdel harmonylite; fi
  rm -f "$STATE"
}

WORK=""
on_exit() {
  local rc=$?
  ((${#PIDS[@]} == 0)) || stop_pids "${PIDS[@]}"
  if ((rc != 0)) && [[ -n $WORK ]]; then
    for log in "$WORK"/*.log; do
      [[ -f $log ]] && { echo "--- $log (last 25 lines)"; tail -n 25 "$log"; }
    done
  fi
  [[ -f $STATE ]] && restore_machine
  if [[ -n $WORK ]]; then
    if [[ -n ${HL_KEEP_TEST_DIRS:-} ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap on_exit EXIT

# --- preconditions ---------------------------------------------------------------------------
(($(id -u) == 0)) || skip "needs root: it installs the package on this machine"
for tool in cpack dpkg-deb lintian apt-get sqlite3 curl setpriv systemd-analyze; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh"
done
[[ -x $NODE_BIN ]] || fail "no program at $NODE_BIN: build the harmonylite target first"
if [[ -f $STATE ]]; then
  step "an earlier run was interrupted: purging what it left"
  restore_machine
fi
if [[ -n $(package_status) && ! $(package_status) =~ ^.n ]] || getent passwd harmonylite >/dev/null ||
  [[ -e /etc/harmonylite || -e /var/lib/harmonylite || -e /var/log/harmonylite || -e $LINK || -L $LINK ]]; then
  skip "harmonylite (package, user, directories or $LINK) is already on this machine; this test would remove it"
fi
touch "$STATE"

WORK=$(mktemp -d /tmp/hl-package-test.XXXXXX)
chmod 755 "$WORK"  # the harmonylite user reaches its node folder below it

# --- the packages ------------------------------------------------------------------------------
step "building the packages with cpack"
cpack --config "$BUILD_DIR/CPackConfig.cmake" -B "$WORK/packages" >"$WORK/cpack.log" 2>&1 ||
  fail "cpack failed: $(tail -n 20 "$WORK/cpack.log")"
shopt -s nullglob
debs=("$WORK"/packages/harmonylite_*.deb)
tgzs=("$WORK"/packages/harmonylite_*.tar.gz)
rpms=("$WORK"/packages/harmonylite-*.rpm)
shopt -u nullglob
((${#debs[@]} == 1)) || fail "expected one .deb, got: ${debs[*]:-none}"
((${#tgzs[@]} == 1)) || fail "expected one .tar.gz, got: ${tgzs[*]:-none}"
DEB=${debs[0]}
TGZ=${tgzs[0]}
ls -l "$WORK"/packages/harmonylite*

step "contents of $(basename "$DEB")"
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/deb-files"
for f in /usr/bin/harmonylite /usr/lib/harmonylite/harmonylite-dashboard "$CONFIG" "$UNIT" /etc/systemd/journald.conf.d/harmonylite.conf \
  /usr/share/applications/harmonylite.desktop /usr/share/icons/hicolor/scalable/apps/harmonylite.svg \
  /usr/share/doc/harmonylite/copyright /usr/share/doc/harmonylite/changelog.Debian.gz \
  /usr/share/doc/harmonylite/operations.md; do
  grep -qxF "$f" "$WORK/deb-files" || fail "the .deb has no $f"
done
if grep -q '^/usr/local' "$WORK/deb-files"; then fail "the .deb ships files under /usr/local"; fi

step "control fields"
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$BUILD_DIR/CPackConfig.cmake")
[[ $(dpkg-deb -f "$DEB" Package) == harmonylite ]] || fail "Package is not harmonylite"
[[ $(dpkg-deb -f "$DEB" Version) == "$version"-* ]] || fail "Version $(dpkg-deb -f "$DEB" Version) is not $version-<revision>"
depends=$(dpkg-deb -f "$DEB" Depends)
echo "Depends: $depends"
for dep in nats-server adduser libcurl4 qt6-qpa-plugins "${QML_MODULES[@]}" libc6 libqt6core6 libsqlite3-0 libcbor0.8 libnats3.4; do
  [[ ", $depends," == *", $dep"[\ ,]* ]] || fail "Depends lacks $dep"
done
dpkg-deb -e "$DEB" "$WORK/control"
grep -qxF "$CONFIG" "$WORK/control/conffiles" || fail "$CONFIG is not a conffile"
for script in postinst prerm postrm; do
  [[ $(stat -c %a "$WORK/control/$script") == 755 ]] || fail "$script is not mode 755"
done

step "lintian"
lintian --tag-display-limit 0 "$DEB" >"$WORK/lintian.txt" 2>&1 || true
cat "$WORK/lintian.txt"
if grep -q '^E:' "$WORK/lintian.txt"; then fail "lintian reports errors"; fi

step "the other packages"
tar -tzf "$TGZ" >"$WORK/tgz-files"
for f in usr/bin/harmonylite usr/lib/harmonylite/harmonylite-dashboard etc/harmonylite/config.toml lib/systemd/system/harmonylite.service; do
  grep -q "/$f\$" "$WORK/tgz-files" || fail "$(basename "$TGZ") has no $f"
done
if command -v rpmbuild >/dev/null; then
  ((${#rpms[@]} == 1)) || fail "rpmbuild is here but there is no .rpm"
  # (Outputs are read whole before grep -q: with pipefail, grep leaving early fails the pipe.)
  grep -qxF /usr/bin/harmonylite <<<"$(rpm -qpl "${rpms[0]}")" || fail "the .rpm has no /usr/bin/harmonylite"
  grep -qxF "$CONFIG" <<<"$(rpm -qpc "${rpms[0]}")" || fail "the .rpm does not mark $CONFIG as config"
else
  echo "no rpmbuild here: no .rpm expected"
fi

# --- install ---------------------------------------------------------------------------------
step "apt-get install $(basename "$DEB")"
apt-get install -y -q "$DEB" >"$WORK/apt-install.log" 2>&1 || fail "apt-get install failed: $(tail -n 20 "$WORK/apt-install.log")"
[[ $(package_status) == ii* ]] || fail "package status is '$(package_status)' after install"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd harmonylite) || fail "no user harmonylite"
((uid < 1000)) || fail "harmonylite is not a system user (uid $uid)"
[[ $home == /var/lib/harmonylite ]] || fail "harmonylite's home is $home"
[[ $shell == */nologin || $shell == /bin/false ]] || fail "harmonylite has a login shell: $shell"
getent group harmonylite >/dev/null || fail "no group harmonylite"
for dir in "${SERVICE_DIRS[@]}"; do
  [[ $(stat -c '%U:%G %a' "$dir") == "harmonylite:harmonylite 750" ]] ||
    fail "$dir is $(stat -c '%U:%G %a' "$dir"), not harmonylite:harmonylite 750"
done
[[ $(dpkg-query -W -f='${Conffiles}' harmonylite) == *" $CONFIG "* ]] || fail "dpkg does not list $CONFIG as a conffile"
[[ $(readlink "$LINK") == /usr/bin/harmonylite ]] || fail "$LINK is not a link to /usr/bin/harmonylite"
[[ -L /etc/systemd/system/multi-user.target.wants/harmonylite.service ]] || fail "the unit is not enabled"
[[ $(/usr/bin/harmonylite -version) == harmonylite* ]] || fail "/usr/bin/harmonylite -version does not run"
[[ $(/usr/lib/harmonylite/harmonylite-dashboard -version) == harmonylite* ]] ||
  fail "/usr/lib/harmonylite/harmonylite-dashboard -version does not run"
installed_files=$(dpkg -L harmonylite | while read -r f; do [[ -f $f && ! -L $f ]] && echo "$f"; done)
# shellcheck disable=SC2086  # one path per word
echo "footprint: Installed-Size $(dpkg-query -W -f='${Installed-Size}' harmonylite) KiB, installed files $(du -cb $installed_files | tail -n 1 | cut -f1) bytes ($(du -ch $installed_files | tail -n 1 | cut -f1) on disk)"

# --- run the installed program as the unit does, and replicate --------------------------------
unit_value() { sed -n "s/^$1=//p" "$UNIT"; }
exec_start=$(unit_value ExecStart)
service_user=$(unit_value User)
service_group=$(unit_value Group)
work_dir=$(unit_value WorkingDirectory)
nofile=$(unit_value LimitNOFILE)
[[ $exec_start == "/usr/bin/harmonylite -config $CONFIG --no-gui" ]] || fail "unexpected ExecStart: $exec_start"
[[ $service_user == harmonylite && $service_group == harmonylite && $work_dir == /var/lib/harmonylite ]] ||
  fail "unexpected User/Group/WorkingDirectory: $service_user/$service_group/$work_dir"

# as_service <log> <program and arguments>: starts it as the unit would, in the background;
# the pid is appended to PIDS.
as_service() {
  local log=$1
  shift
  (
    cd "$work_dir"
    ulimit -n "$nofile" 2>/dev/null || echo "note: cannot raise the open-file limit to $nofile here (hard limit $(ulimit -Hn))" >&2
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$work_dir" \
      USER="$service_user" LOGNAME="$service_user" \
      setpriv --reuid="$service_user" --regid="$service_group" --init-groups --no-new-privs "$@"
  ) 2>"$log" >/dev/null &
  PIDS+=($!)
}
as_user() { setpriv --reuid="$service_user" --regid="$service_group" --init-groups "$@"; }
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }

# node_config <dir> <nats port> <health port> <metrics port>: the packaged config, copied and
# pointed at <dir>; prints its path.
node_config() {
  local dir=$1 cfg=$1/config.toml
  cp "$CONFIG" "$cfg"
  set_line "$cfg" '^db_path = ' "db_path = \"$dir/data.db\""
  set_line "$cfg" '^seq_map_path = ' "seq_map_path = \"$dir/seq-map.cbor\""
  set_line "$cfg" '^# bind_address = ' "bind_address = \"127.0.0.1:$2\""
  set_line "$cfg" '^bind = "127.0.0.1:8090"' "bind = \"127.0.0.1:$3\""
  set_line "$cfg" '^bind = "127.0.0.1:3010"' "bind = \"127.0.0.1:$4\""
  echo "$cfg"
}
set_line() {  # set_line <file> <regex of one line> <new line>
  [[ $(grep -c -- "$2" "$1") == 1 ]] || fail "the packaged config has not exactly one line matching '$2'"
  sed -i "s|$2.*|$3|" "$1"
}
healthy() { [[ $(curl -fsS "http://127.0.0.1:$1/health") =~ \"status\":\ *\"healthy\" ]]; }
count_is() { [[ $(sql "$1" "SELECT count(*) FROM notes") == "$2" ]]; }
SCHEMA="CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);"

step "two nodes: the installed program as $service_user, the build-tree program as root"
alloc_port nats1; alloc_port nats2; alloc_port route1; alloc_port route2
alloc_port health1; alloc_port health2; alloc_port metrics1; alloc_port metrics2
mkdir -p "$WORK/node1" "$WORK/node2"
cfg1=$(node_config "$WORK/node1" "$nats1" "$health1" "$metrics1")
cfg2=$(node_config "$WORK/node2" "$nats2" "$health2" "$metrics2")
sql "$WORK/node1/data.db" "$SCHEMA"
sql "$WORK/node2/data.db" "$SCHEMA"
chown -R harmonylite:harmonylite "$WORK/node1"
chmod 750 "$WORK/node1"
read -r -a argv1 <<<"${exec_start/$CONFIG/$cfg1}"
as_service "$WORK/node1.log" "${argv1[@]}" -cluster-addr "127.0.0.1:$route1" -cluster-peers "nats://127.0.0.1:$route2"
pid1=${PIDS[-1]}
"$NODE_BIN" -config "$cfg2" --no-gui -cluster-addr "127.0.0.1:$route2" -cluster-peers "nats://127.0.0.1:$route1" \
  2>"$WORK/node2.log" >/dev/null &
PIDS+=($!)
pid2=$!
wait_for 60 "node 1 (installed) to run" running "$WORK/node1.log" "$pid1"
wait_for 60 "node 2 (build tree) to run" running "$WORK/node2.log" "$pid2"
wait_for 60 "node 1's /health to say healthy" healthy "$health1"
wait_for 60 "node 2's /health to say healthy" healthy "$health2"
[[ $(ps -o user= -p "$pid1") == harmonylite ]] || fail "node 1 does not run as harmonylite"
[[ $(readlink "/proc/$pid1/cwd") == "$work_dir" ]] || fail "node 1 does not run in $work_dir"
if grep -q "unknown key" "$WORK/node1.log"; then fail "the packaged config has unknown keys: $(grep "unknown key" "$WORK/node1.log")"; fi
grep -q '^harmonylite_up' <<<"$(curl -fsS "http://127.0.0.1:$metrics1/metrics")" || fail "node 1 serves no harmonylite_up metric"

step "replication both ways"
as_user sqlite3 -cmd ".timeout 5000" "$WORK/node1/data.db" \
  "INSERT INTO notes(id, body) VALUES (1, 'written on the installed node'), (2, 'and another')"
wait_for 90 "node 2 to receive node 1's rows" count_is "$WORK/node2/data.db" 2
step "node 2 has node 1's rows"
sql "$WORK/node2/data.db" "INSERT INTO notes(id, body) VALUES (3, 'written on the build-tree node')"
wait_for 90 "node 1 to receive node 2's row" count_is "$WORK/node1/data.db" 3
step "node 1 has node 2's row"
[[ $(sql "$WORK/node2/data.db" "SELECT body FROM notes WHERE id = 1") == "written on the installed node" ]] ||
  fail "node 2 has another row 1"
step "stopping both nodes"
stop_pids "$pid1" "$pid2"
[[ ${STOP_RCS[*]} == "0 0" ]] || fail "on SIGTERM node 1 exited with ${STOP_RCS[0]}, node 2 with ${STOP_RCS[1]}"

step "the guide's ExecStart line: $LINK -config <config>, no --no-gui, no display"
alloc_port nats3; alloc_port health3; alloc_port metrics3
mkdir -p "$WORK/node3"
cfg3=$(node_config "$WORK/node3" "$nats3" "$health3" "$metrics3")
chown -R harmonylite:harmonylite "$WORK/node3"
as_service "$WORK/node3.log" "$LINK" -config "$cfg3"
pid3=${PIDS[-1]}
wait_for 60 "the guide's service line to run headless" running "$WORK/node3.log" "$pid3"
wait_for 60 "its /health to say healthy" healthy "$health3"
stop_pids "$pid3"
((STOP_RCS[0] == 0)) || fail "the guide's service line exited with ${STOP_RCS[0]} on SIGTERM"

step "a display: $LINK starts the installed dashboard program in its place"
mkdir -p "$WORK/node3/xdg" && chown harmonylite:harmonylite "$WORK/node3/xdg"
as_service "$WORK/node3-gui.log" env QT_QPA_PLATFORM=offscreen XDG_CONFIG_HOME="$WORK/node3/xdg" \
  "$LINK" -config "$cfg3"
pid3=${PIDS[-1]}
with_dashboard() {
  kill -0 "$2" 2>/dev/null || fail "the node (pid $2) exited: $(tail -n 20 "$1")"
  grep -q "node running with the dashboard" "$1"
}
wait_for 60 "the installed dashboard to open" with_dashboard "$WORK/node3-gui.log" "$pid3"
[[ $(readlink "/proc/$pid3/exe") == /usr/lib/harmonylite/harmonylite-dashboard ]] ||
  fail "the node with a display runs $(readlink "/proc/$pid3/exe"), not /usr/lib/harmonylite/harmonylite-dashboard"
stop_pids "$pid3"
((STOP_RCS[0] == 0)) || fail "the installed dashboard exited with ${STOP_RCS[0]} on SIGTERM"

step "systemd-analyze verify"
# A trivial unit first: when even that fails, this machine cannot verify units at all.
printf '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n' >"$WORK/probe.service"
if systemd-analyze verify "$WORK/probe.service" >"$WORK/verify-probe.log" 2>&1; then
  systemd-analyze verify "$UNIT" >"$WORK/verify.log" 2>&1 || fail "systemd-analyze verify failed: $(cat "$WORK/verify.log")"
  if [[ -s $WORK/verify.log ]]; then fail "systemd-analyze verify complains: $(cat "$WORK/verify.log")"; fi
  echo "the unit verifies cleanly"
else
  echo "SKIPPED CHECK: systemd-analyze cannot verify units here: $(head -n 3 "$WORK/verify-probe.log")"
fi

# --- reinstall, remove, purge ----------------------------------------------------------------
step "reinstall keeps an edited conffile"
echo "# edited by the package test" >>"$CONFIG"
apt-get install -y -q --reinstall "$DEB" >"$WORK/apt-reinstall.log" 2>&1 || fail "reinstall failed: $(tail -n 20 "$WORK/apt-reinstall.log")"
grep -q "edited by the package test" "$CONFIG" || fail "reinstalling lost the edit of $CONFIG"
[[ $(stat -c '%U:%G %a' /var/lib/harmonylite) == "harmonylite:harmonylite 750" ]] || fail "reinstall changed /var/lib/harmonylite"

step "apt-get remove: configuration, data and user stay"
as_user sqlite3 /var/lib/harmonylite/data.db "CREATE TABLE kept(x); INSERT INTO kept VALUES (42);"
apt-get remove -y -q harmonylite >"$WORK/apt-remove.log" 2>&1 || fail "apt-get remove failed: $(tail -n 20 "$WORK/apt-remove.log")"
[[ $(package_status) == rc* ]] || fail "package status is '$(package_status)' after remove"
[[ ! -e /usr/bin/harmonylite ]] || fail "/usr/bin/harmonylite is still there"
[[ ! -e $LINK && ! -L $LINK ]] || fail "$LINK is still there"
grep -q "edited by the package test" "$CONFIG" || fail "remove did not keep $CONFIG"
[[ $(sql /var/lib/harmonylite/data.db "SELECT x FROM kept") == 42 ]] || fail "remove lost the database"
getent passwd harmonylite >/dev/null || fail "remove deleted the user"

step "apt-get purge: configuration goes, the database stays"
apt-get purge -y -q harmonylite >"$WORK/apt-purge.log" 2>&1 || fail "apt-get purge failed: $(tail -n 20 "$WORK/apt-purge.log")"
[[ -z $(package_status) || $(package_status) =~ ^.n ]] || fail "package status is '$(package_status)' after purge"
[[ ! -e /etc/harmonylite ]] || fail "purge left /etc/harmonylite"
[[ ! -e /etc/systemd/journald.conf.d/harmonylite.conf ]] || fail "purge left the journald drop-in"
[[ ! -e /etc/systemd/system/multi-user.target.wants/harmonylite.service ]] || fail "purge left the unit enabled"
[[ $(sql /var/lib/harmonylite/data.db "SELECT x FROM kept") == 42 ]] || fail "purge lost the database"

echo "package test passed in $((SECONDS - START)) s"
