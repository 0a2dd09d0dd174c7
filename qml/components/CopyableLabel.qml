// A value that may be long (a hash, a path, a URL, a setting): elided to its width, whole in
// its tooltip, and copied to the clipboard with a right click → Copy. `fullText` is what the
// tooltip shows and Copy copies (the label may show a shortened form, e.g. 16 characters of a
// hash).
import QtQuick
import QtQuick.Controls

Label {
  id: value
  property string fullText: text
  elide: Text.ElideMiddle
  Accessible.name: value.fullText
  Accessible.description: qsTr("Right click to copy")
  HoverHandler { id: hover }
  ToolTip.visible: hover.hovered && value.fullText.length > 0 && (value.truncated || value.fullText !== value.text)
  ToolTip.text: value.fullText
  ToolTip.delay: 400
  TapHandler {
    acceptedButtons: Qt.RightButton
    onTapped: copyMenu.popup()
  }
  Menu {
    id: copyMenu
    MenuItem {
      text: qsTr("Copy")
      onTriggered: value.copy()
    }
  }
  // QML has no clipboard object in Qt 6.4: a hidden text edit copies its selection.
  TextEdit { id: clip; visible: false; text: value.fullText }
  function copy() {
    clip.selectAll()
    clip.copy()
  }
}
