import QtQuick
import QtTest
import HarmonyLite.Backend
import HarmonyLite.Pages

// The runner (tst_qml.cpp) hands QML the context properties `controller` (the DashboardController)
// and `fake` (FakeStatus), which qmllint cannot know of: unqualified access is not checked here.
// qmllint disable unqualified

// TestCase is invisible by design: the page under test is its sibling in a visible root.
Item {
  id: root
  readonly property DashboardController dashboardController: controller  // for the page
  width: 1100
  height: 900
  SettingsPage { id: page; controller: root.dashboardController; anchors.fill: parent }
  TestCase {
    name: "SettingsPage"
    when: windowShown


    function valueOf(key) {
      const list = findChild(page, "settingsList")
      for (let y = 0; y < list.contentHeight; y += 25) {
        list.contentY = y
        const row = findChild(list, "setting_" + key)
        if (row) return findChild(row, "value").text
      }
      return null
    }

    function test_effectiveConfigWithSecretsMasked() {
      fake.configure("/etc/harmonylite/config.toml", "/var/lib/harmonylite/data.db", "topsecret-password")
      compare(valueOf("db_path"), "\"/var/lib/harmonylite/data.db\"")
      compare(valueOf("user_name"), "\"svc\"")
      compare(valueOf("user_password"), "********")
      compare(controller.configSource, "/etc/harmonylite/config.toml")
      const list = findChild(page, "settingsList")
      verify(list.count > 40)
      // The rows are grouped under section headers, the top-level keys first.
      list.contentY = 0
      tryVerify(() => findChild(list, "section_top level") !== null)
    }

    function test_badNatsUrlIsRefusedGoodOneRestarts() {
      fake.configure("", "/tmp/x.db", "")
      controller.useNatsServers("http://not-nats:80")
      verify(findChild(page, "configError").visible)
      verify(controller.configError.indexOf("not a NATS server URL") >= 0)
      controller.useNatsServers("nats://10.0.0.5:4222, nats://10.0.0.6:4222")
      compare(controller.configError, "")
      compare(fake.restartUrls, ["nats://10.0.0.5:4222", "nats://10.0.0.6:4222"])
    }

    function test_openDatabaseAndLoadConfigErrors() {
      controller.openDatabase("file:///no/such/folder/app.db")
      verify(controller.configError.indexOf("folder must exist") >= 0)
      controller.loadConfig("file:///no/such/config.toml")
      verify(controller.configError.length > 0)
      controller.clearConfigError()
      controller.openDatabase("file:///tmp/dashboard-test.db")
      compare(fake.restartDbPath, "/tmp/dashboard-test.db")
    }

    // A choice made here is the dashboard's setup from then on (no first-run banner), and what
    // the host remembers for the next start is shown with a Forget button.
    function test_rememberedSetupIsShownAndCanBeForgotten() {
      fake.configure("", "/tmp/x.db", "")
      fake.remember("")
      verify(controller.firstRun)
      verify(!findChild(page, "rememberedRow").visible)
      controller.openDatabase("file:///tmp/chosen.db")
      verify(!controller.firstRun)
      compare(controller.configSource, "choices made in the dashboard (no config file)")
      fake.remember("database /tmp/chosen.db, embedded NATS, node 7")
      const row = findChild(page, "rememberedRow")
      verify(row.visible)
      verify(findChild(row, "rememberedText").text.indexOf("/tmp/chosen.db") >= 0)
      const before = fake.forgetCount
      mouseClick(findChild(row, "forgetSetupButton"))
      compare(fake.forgetCount, before + 1)
      fake.remember("")
      verify(!row.visible)
      controller.forgetSetup()  // nothing remembered: nothing to ask the host
      compare(fake.forgetCount, before + 1)
    }

    // The file dialog really opens (its QML implementation and the modules it imports load).
    function test_openDatabaseDialogOpens() {
      failOnWarning(/Failed to load|is not installed/)
      mouseClick(findChild(page, "openDatabaseButton"))
      const dialog = findChild(page, "databaseDialog")
      verify(dialog)
      tryVerify(() => dialog.visible)
      // Cancelling with Escape closes it and changes nothing.
      const before = fake.restartDbPath
      keyClick(Qt.Key_Escape)
      tryVerify(() => !dialog.visible)
      compare(fake.restartDbPath, before)
    }
  }
}
