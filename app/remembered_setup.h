// The setup the user chose in the dashboard (a config file, a database, NATS servers), kept
// between runs so that the next start without -config opens on it instead of the first-run
// defaults. Stored with QSettings (INI) in $XDG_CONFIG_HOME/harmonylite/dashboard.ini.
// Only the dashboard host uses it: a headless start without -config always runs on the
// first-run defaults (services pass -config), so a desktop choice never changes a service.
// Thread: any; the functions touch only the file.
#pragma once

#include <QString>
#include <QStringList>

#include "harmonylite/config.h"
#include "harmonylite/status.h"

namespace hl {

struct RememberedSetup {
  QString configPath;    // the config file loaded in the dashboard, or empty
  QString dbPath;        // the database the node ran on
  QStringList natsUrls;  // empty: the embedded server
  uint64_t nodeId = 0;

  bool isEmpty() const { return dbPath.isEmpty(); }
  // What `config` (the node's effective configuration) would be remembered as.
  static RememberedSetup fromConfig(const Config& config);
  // One line for the log and the Settings page.
  QString describe() const;
};

// Where the setup is kept (follows XDG_CONFIG_HOME).
QString rememberedSetupPath();
// The remembered setup, or an empty one when nothing (or nothing usable) is stored.
RememberedSetup loadRememberedSetup();
Status saveRememberedSetup(const RememberedSetup& setup);
// Forgets it: the next start runs on the first-run defaults. Fine when nothing is stored.
Status forgetRememberedSetup();
// The configuration a remembered setup stands for: its config file, if any, loaded again,
// with the database, NATS servers and node id of the session put back. An error names what
// no longer works (a config file that is gone or no longer loads).
Result<Config> restoreSetup(const RememberedSetup& setup, QList<ConfigWarning>* warnings = nullptr);

}  // namespace hl
