// Pointing the node at the user's own database and cluster: open a database file, choose NATS
// servers, or load a config file. Each restarts the node through the controller; a refusal
// shows in controller.configError.
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import QtQuick.Window
import HarmonyLite.Backend

RowLayout {
  id: actions
  required property DashboardController controller  // from the page
  spacing: 8

  Button {
    objectName: "openDatabaseButton"
    Accessible.name: qsTr("Open another database file")
    Accessible.description: qsTr("Restarts the node on another SQLite database")
    text: qsTr("Open database…")
    onClicked: databaseDialog.open()
  }
  Button {
    objectName: "natsServersButton"
    Accessible.name: qsTr("Choose the NATS servers of the cluster")
    Accessible.description: qsTr("Restarts the node on other NATS servers, or on its embedded one")
    text: qsTr("Choose NATS servers…")
    onClicked: { natsField.text = actions.controller.natsUrls; natsDialog.open() }
  }
  Button {
    objectName: "loadConfigButton"
    Accessible.name: qsTr("Load a config file")
    Accessible.description: qsTr("Restarts the node with a TOML config file")
    text: qsTr("Load config file…")
    onClicked: configDialog.open()
  }

  FileDialog {
    id: databaseDialog
    objectName: "databaseDialog"
    title: qsTr("Open a SQLite database")
    parentWindow: actions.Window.window  // found once the page is in a window
    nameFilters: [qsTr("SQLite databases (*.db *.sqlite *.sqlite3)"), qsTr("All files (*)")]
    fileMode: FileDialog.OpenFile
    onAccepted: actions.controller.openDatabase(databaseDialog.selectedFile)
  }
  FileDialog {
    id: configDialog
    title: qsTr("Load a HarmonyLite config file")
    parentWindow: actions.Window.window
    nameFilters: [qsTr("TOML files (*.toml)"), qsTr("All files (*)")]
    onAccepted: actions.controller.loadConfig(configDialog.selectedFile)
  }
  Dialog {
    id: natsDialog
    objectName: "natsDialog"
    title: qsTr("NATS servers")
    modal: true
    anchors.centerIn: Overlay.overlay
    width: 520
    standardButtons: Dialog.Ok | Dialog.Cancel
    ColumnLayout {
      width: parent.width
      Label {
        text: qsTr("Comma-separated server URLs, e.g. nats://10.0.0.5:4222, nats://10.0.0.6:4222. " +
                   "Leave empty to run the embedded NATS server.")
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
      TextField {
        id: natsField
        objectName: "natsField"
        placeholderText: "nats://host:4222"
        Layout.fillWidth: true
        onAccepted: natsDialog.accept()
      }
    }
    onAccepted: actions.controller.useNatsServers(natsField.text)
  }
}
