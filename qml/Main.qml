// The dashboard window: a navigation rail on the left (Ctrl+1..7, or arrows when it has focus)
// and the seven pages. Everything it shows comes from `controller` (DashboardController).
pragma ComponentBehavior: Bound  // delegates use the window's ids
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import HarmonyLite.Backend
import HarmonyLite.Components
import HarmonyLite.Pages

ApplicationWindow {
  id: window
  objectName: "mainWindow"
  // 1280x800, or the screen's free area when it is smaller (a 1024x600 gateway panel); the pages
  // scroll below 800x480 (docs/dashboard.md#small-screens).
  width: Math.min(1280, Screen.desktopAvailableWidth > 0 ? Screen.desktopAvailableWidth : 1280)
  height: Math.min(800, Screen.desktopAvailableHeight > 0 ? Screen.desktopAvailableHeight : 800)
  minimumWidth: Math.min(800, width)
  minimumHeight: Math.min(480, height)
  visible: true
  // The DashboardController, which the host (GuiRunner) sets when it loads this file; the pages
  // get it as their `controller` property.
  required property DashboardController controller
  title: controller.windowTitle
  color: Theme.background
  font.pixelSize: Theme.fontBody
  // The theme (docs/dashboard.md#themes): the controller's choice, and the controls' palette
  // from it, so that every Label and Button follows.
  Binding { target: Theme; property: "dark"; value: window.controller.darkTheme }
  palette.window: Theme.background
  palette.windowText: Theme.text
  palette.base: Theme.surface
  palette.alternateBase: Theme.surfaceAlt
  palette.text: Theme.text
  palette.button: Theme.surfaceAlt
  palette.buttonText: Theme.text
  palette.brightText: Theme.onStrong
  palette.highlight: Theme.accent
  palette.highlightedText: Theme.onStrong
  palette.placeholderText: Theme.textMuted
  palette.toolTipBase: Theme.surface
  palette.toolTipText: Theme.text
  palette.light: Theme.surface
  palette.midlight: Theme.surfaceAlt
  palette.mid: Theme.border
  palette.dark: Theme.border
  palette.shadow: Theme.rail

  readonly property var pageNames: [qsTr("Overview"), qsTr("Shards"), qsTr("Cluster"), qsTr("Events"), qsTr("Settings"), qsTr("Snapshots"), qsTr("Schema")]
  property alias currentPage: rail.currentIndex
  readonly property var pages: [overview, shards, cluster, events, settings, snapshots, schema]

  RowLayout {
    anchors.fill: parent
    spacing: 0

    Rectangle {
      color: Theme.rail
      Layout.fillHeight: true
      Layout.preferredWidth: 210

      ColumnLayout {
        anchors.fill: parent
        anchors.topMargin: Theme.padding
        spacing: 4

        Label {
          text: "HarmonyLite"
          color: Theme.onStrong
          font.pixelSize: Theme.fontTitle
          font.bold: true
          Layout.leftMargin: Theme.padding
        }
        Label {
          text: qsTr("node %1").arg(window.controller.nodeId)
          color: Theme.railText
          font.pixelSize: Theme.fontSmall
          Layout.leftMargin: Theme.padding
          Layout.bottomMargin: Theme.padding
        }

        ListView {
          id: rail
          objectName: "navigation"
          model: window.pageNames
          Layout.fillWidth: true
          Layout.fillHeight: true
          keyNavigationEnabled: true
          focus: true
          delegate: ItemDelegate {
            id: navItem
            required property string modelData
            required property int index
            objectName: "nav_" + modelData
            width: ListView.view.width
            height: 44
            highlighted: ListView.isCurrentItem
            onClicked: rail.currentIndex = index
            background: Rectangle {
              color: navItem.highlighted ? Theme.railSelected : navItem.hovered ? Theme.railHover : "transparent"
              Rectangle { visible: navItem.highlighted; width: 4; height: parent.height; color: Theme.accent }
            }
            contentItem: RowLayout {
              Label {
                text: navItem.modelData
                color: navItem.highlighted ? Theme.onStrong : Theme.railText
                font.bold: navItem.highlighted
                Layout.fillWidth: true
                Layout.leftMargin: 6
              }
              Label {
                // Attention marks: unhealthy or alerts firing, schema mismatch, open dead letters, snapshot error,
                // shards waiting for a schema change.
                readonly property DashboardController c: window.controller
                readonly property int marks: navItem.index === 0 && c.summary.valid && (!c.summary.healthy || c.summary.alertsFiring > 0) ? 1
                                           : navItem.index === 2 ? c.cluster.mismatches
                                           : navItem.index === 3 ? c.summary.deadLetters
                                           : navItem.index === 5 && c.snapshotSummary.lastError.length > 0 ? 1
                                           : navItem.index === 6 ? c.summary.schemaPausedShards : 0
                visible: marks > 0
                text: navItem.index === 0 || navItem.index === 5 ? "!" : marks
                color: Theme.onStrong
                font.pixelSize: Theme.fontSmall
                font.bold: true
                padding: 4
                background: Rectangle { radius: 8; color: Theme.bad }
              }
            }
          }
        }

        Label {
          text: window.controller.summary.version ? "v" + window.controller.summary.version : ""
          color: Theme.railText
          font.pixelSize: Theme.fontSmall
          Layout.margins: Theme.padding
        }
      }
    }

    StackLayout {
      id: stack
      currentIndex: rail.currentIndex
      Layout.fillWidth: true
      Layout.fillHeight: true
      Layout.margins: Theme.padding * 1.5

      OverviewPage { id: overview; controller: window.controller; onOpenSchemaPage: rail.currentIndex = window.pages.indexOf(schema) }
      ShardsPage { id: shards; controller: window.controller }
      ClusterPage { id: cluster; controller: window.controller }
      EventsPage { id: events; controller: window.controller }
      SettingsPage { id: settings; controller: window.controller }
      SnapshotsPage { id: snapshots; controller: window.controller }
      SchemaPage { id: schema; controller: window.controller }
    }
  }

  Repeater {
    model: window.pageNames.length
    Item {
      id: shortcutItem
      required property int index
      Shortcut {
        sequence: "Ctrl+" + (shortcutItem.index + 1)
        onActivated: rail.currentIndex = shortcutItem.index
      }
    }
  }
  // Silenced on this line: Qt 6.4's qmllint cannot find an enum through a value type's name
  // (StandardKey is QKeySequence), which the engine does.
  Shortcut { sequence: StandardKey.Quit; onActivated: Qt.quit() }  // qmllint disable unqualified
  // With a tray icon, closing the window hides it and the node goes on (the tray's menu opens it
  // again or quits); without one, closing quits.
  onClosing: (close) => {
    if (window.controller.trayAvailable) {
      close.accepted = false
      window.hide()
    }
  }

  // The answer to the last control, for a few seconds.
  Rectangle {
    id: toast
    objectName: "toast"
    property string message
    property bool ok: true
    anchors.horizontalCenter: parent.horizontalCenter
    anchors.bottom: parent.bottom
    anchors.bottomMargin: 24
    width: Math.min(toastText.implicitWidth + 40, parent.width - 80)
    height: toastText.implicitHeight + 20
    radius: Theme.radius
    color: ok ? Theme.rail : Theme.bad
    opacity: 0
    visible: opacity > 0
    Behavior on opacity { NumberAnimation { duration: 150 } }
    Label { id: toastText; anchors.centerIn: parent; text: toast.message; color: Theme.onStrong; width: Math.min(implicitWidth, parent.width - 40); wrapMode: Text.WordWrap }
    Timer { id: toastTimer; interval: 4000; onTriggered: toast.opacity = 0 }
    Connections {
      target: window.controller
      function onControlFinished(ok, message) {
        toast.ok = ok
        toast.message = message
        toast.opacity = 1
        toastTimer.restart()
      }
    }
  }
}
