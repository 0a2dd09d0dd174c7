// Healthy / unhealthy / starting pill; `reason` is shown as its tooltip and beside it by pages.
// `differs`: the last consistency check found the nodes' data different: a healthy node's pill
// turns amber ("Data differs"; docs/consistency.md#in-the-appliance). `alertLevel`: the worst
// firing alert (docs/alerts.md; -1 none, 0 warning, 1 critical) turns a healthy node's pill
// amber or red ("1 alert", "2 alerts").
import QtQuick
import QtQuick.Controls

Rectangle {
  id: badge
  property bool known: false
  property bool healthy: false
  property string reason
  property bool differs: false
  property int alertLevel: -1
  property int alerts: 0
  readonly property int tone: !known ? Theme.Tone.Warn
                              : !healthy || alertLevel >= 1 ? Theme.Tone.Bad
                              : differs || alertLevel === 0 ? Theme.Tone.Warn : Theme.Tone.Good
  readonly property alias text: label.text
  radius: height / 2
  implicitHeight: 28
  implicitWidth: label.implicitWidth + 28
  color: Theme.toneSoftColor(tone)
  border.color: Theme.toneColor(tone)

  Label {
    id: label
    anchors.centerIn: parent
    text: !badge.known ? qsTr("Starting") : !badge.healthy ? qsTr("Unhealthy")
          : badge.alerts === 1 ? qsTr("1 alert") : badge.alerts > 1 ? qsTr("%1 alerts").arg(badge.alerts)
          : badge.differs ? qsTr("Data differs") : qsTr("Healthy")
    color: Theme.toneColor(badge.tone)
    font.bold: true
    font.pixelSize: Theme.fontSmall
  }
  Accessible.role: Accessible.StaticText
  Accessible.name: qsTr("Node health: %1").arg(label.text)
  Accessible.description: reason
  HoverHandler { id: hover }
  ToolTip.visible: hover.hovered && reason.length > 0
  ToolTip.text: reason
}
