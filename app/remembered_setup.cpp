#include "remembered_setup.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>

namespace hl {

RememberedSetup RememberedSetup::fromConfig(const Config& config) {
  RememberedSetup s;
  s.configPath =
      config.sourcePath.isEmpty() ? QString() : QFileInfo(config.sourcePath).absoluteFilePath();
  s.dbPath = QFileInfo(config.dbPath).absoluteFilePath();
  s.natsUrls = config.nats.urls;
  s.nodeId = config.nodeId;
  return s;
}

QString RememberedSetup::describe() const {
  const QString nats =
      natsUrls.isEmpty() ? QStringLiteral("embedded NATS") : natsUrls.join(QStringLiteral(", "));
  QString text = QStringLiteral("database %1, %2, node %3").arg(dbPath, nats).arg(nodeId);
  if (!configPath.isEmpty()) text = QStringLiteral("config %1, ").arg(configPath) + text;
  return text;
}

QString rememberedSetupPath() {
  return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation))
      .filePath(QStringLiteral("harmonylite/dashboard.ini"));
}

RememberedSetup loadRememberedSetup() {
  RememberedSetup s;
  const QString path = rememberedSetupPath();
  if (!QFileInfo::exists(path)) return s;
  QSettings ini(path, QSettings::IniFormat);
  ini.beginGroup(QStringLiteral("setup"));
  s.configPath = ini.value(QStringLiteral("config")).toString();
  s.dbPath = ini.value(QStringLiteral("db_path")).toString();
  s.natsUrls = ini.value(QStringLiteral("nats_urls")).toStringList();
  s.natsUrls.removeAll(QString());
  bool ok = false;
  s.nodeId = ini.value(QStringLiteral("node_id")).toULongLong(&ok);
  if (!ok || s.nodeId == 0 || !QDir::isAbsolutePath(s.dbPath)) return {};  // not ours, or damaged
  return s;
}

Status saveRememberedSetup(const RememberedSetup& setup) {
  const QString path = rememberedSetupPath();
  const QString folder = QFileInfo(path).absolutePath();
  if (!QDir().mkpath(folder))
    return Status::ioError(QStringLiteral("cannot create %1").arg(folder));
  QSettings ini(path, QSettings::IniFormat);
  ini.clear();
  ini.beginGroup(QStringLiteral("setup"));
  ini.setValue(QStringLiteral("config"), setup.configPath);
  ini.setValue(QStringLiteral("db_path"), setup.dbPath);
  ini.setValue(QStringLiteral("nats_urls"), setup.natsUrls);
  ini.setValue(QStringLiteral("node_id"), QString::number(setup.nodeId));
  ini.endGroup();
  ini.sync();
  if (ini.status() != QSettings::NoError)
    return Status::ioError(QStringLiteral("cannot write %1").arg(path));
  return Status::ok();
}

Status forgetRememberedSetup() {
  const QString path = rememberedSetupPath();
  if (QFileInfo::exists(path) && !QFile::remove(path))
    return Status::ioError(QStringLiteral("cannot remove %1").arg(path));
  return Status::ok();
}

Result<Config> restoreSetup(const RememberedSetup& setup, QList<ConfigWarning>* warnings) {
  Config c;
  if (!setup.configPath.isEmpty()) {
    auto loaded = loadConfigFile(setup.configPath);
    if (!loaded) return loaded.status();
    c = loaded->config;
    if (warnings) *warnings = loaded->warnings;
  }
  if (!QFileInfo(QFileInfo(setup.dbPath).absolutePath()).isDir())
    return Status::notFound(QStringLiteral("the folder of %1 is gone").arg(setup.dbPath));
  c.dbPath = setup.dbPath;
  c.nats.urls = setup.natsUrls;
  c.nodeId = setup.nodeId;
  return c;
}

}  // namespace hl
