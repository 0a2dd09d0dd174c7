// Settings: the effective configuration (secrets masked) and where it came from, with the
// actions that point the node at another database, other NATS servers or a config file, and the
// dashboard's theme.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components

Item {
  id: page
  objectName: "settingsPage"
  required property DashboardController controller  // from Main.qml or the test

  ColumnLayout {
    anchors.fill: parent
    spacing: Theme.spacing

    PageHeader {
      title: qsTr("Settings")
      subtitle: qsTr("Effective configuration, loaded from %1").arg(page.controller.configSource)
      Layout.fillWidth: true
    }

    Card {
      title: qsTr("Appearance")
      Layout.fillWidth: true
      RowLayout {
        spacing: Theme.spacing
        Label { text: qsTr("Theme"); color: Theme.textMuted }
        ComboBox {
          id: themeBox
          objectName: "themeChoice"
          readonly property var values: ["system", "light", "dark"]
          model: [qsTr("Follow the desktop"), qsTr("Light"), qsTr("Dark")]
          currentIndex: Math.max(0, values.indexOf(page.controller.theme))
          onActivated: (index) => page.controller.theme = values[index]
          Accessible.name: qsTr("Theme")
          Accessible.description: qsTr("Light or dark colours, or the desktop's setting")
        }
      }
    }

    Card {
      title: qsTr("Point this node elsewhere")
      Layout.fillWidth: true
      Label {
        text: qsTr("Each of these restarts the node with the changed configuration. For a service, edit the config file and restart the service instead.")
        wrapMode: Text.WordWrap
        color: Theme.textMuted
        Layout.fillWidth: true
      }
      SetupActions { controller: page.controller }
      // The dashboard keeps what was chosen here for its next start without -config.
      RowLayout {
        objectName: "rememberedRow"
        visible: page.controller.rememberedSetup.length > 0
        spacing: Theme.spacing
        Layout.fillWidth: true
        Label {
          objectName: "rememberedText"
          text: qsTr("Next start without a config file opens on: %1").arg(page.controller.rememberedSetup)
          wrapMode: Text.WordWrap
          color: Theme.textMuted
          Layout.fillWidth: true
        }
        Button {
          objectName: "forgetSetupButton"
          text: qsTr("Forget")
          ToolTip.visible: hovered
          ToolTip.text: qsTr("The next start without a config file uses the first-run defaults")
          onClicked: page.controller.forgetSetup()
        }
      }
      Label {
        objectName: "configError"
        visible: page.controller.configError.length > 0
        text: page.controller.configError
        color: Theme.bad
        wrapMode: Text.WordWrap
        Layout.fillWidth: true
      }
    }

    Rectangle {
      color: Theme.surface
      radius: Theme.radius
      border.color: Theme.border
      Layout.fillWidth: true
      Layout.fillHeight: true
      clip: true

      ListView {
        id: list
        objectName: "settingsList"
        anchors.fill: parent
        anchors.margins: 1
        model: page.controller.settings
        clip: true
        keyNavigationEnabled: true
        ScrollBar.vertical: ScrollBar {}
        section.property: "section"
        section.delegate: Rectangle {
          id: sectionRow
          required property string section
          objectName: "section_" + section
          width: ListView.view.width
          height: 30
          color: Theme.surfaceAlt
          Label {
            anchors.verticalCenter: parent.verticalCenter
            x: Theme.padding
            text: sectionRow.section
            font.bold: true
            color: Theme.textMuted
          }
        }
        delegate: Item {
          id: row
          required property var model
          objectName: "setting_" + model.key
          width: ListView.view.width
          height: 30
          RowLayout {
            anchors.fill: parent
            anchors.leftMargin: Theme.padding * 2
            anchors.rightMargin: Theme.padding
            spacing: Theme.spacing
            Label { text: row.model.key; Layout.preferredWidth: 240; elide: Text.ElideRight }
            CopyableLabel {
              objectName: "value"
              text: row.model.value
              font.family: "monospace"
              color: row.model.secret ? Theme.textMuted : Theme.text
              elide: Text.ElideMiddle
              Layout.fillWidth: true
            }
            Label { visible: row.model.secret; text: qsTr("secret, hidden"); color: Theme.textMuted; font.pixelSize: Theme.fontSmall }
          }
        }
      }
    }
  }
}
