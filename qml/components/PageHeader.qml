// A page's title line, with room for its controls on the right; when the controls take more
// than half the width (a 1024x600 panel), they go on a line of their own under the title. The
// subtitle wraps (at most 3 lines); a longer one is elided, whole in its tooltip.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

GridLayout {
  id: header
  property string title
  property string subtitle
  default property alias tools: tools.data
  columns: tools.implicitWidth > width / 2 ? 1 : 2
  columnSpacing: Theme.spacing
  rowSpacing: Theme.spacing / 2
  ColumnLayout {
    spacing: 2
    Layout.fillWidth: true
    Label {
      text: header.title
      font.pixelSize: Theme.fontTitle
      font.bold: true
      color: Theme.text
      Accessible.role: Accessible.Heading
    }
    Label {
      id: subtitleText
      text: header.subtitle
      visible: text.length > 0
      color: Theme.textMuted
      font.pixelSize: Theme.fontSmall
      wrapMode: Text.Wrap
      maximumLineCount: 3
      elide: Text.ElideRight
      Layout.fillWidth: true
      HoverHandler { id: subtitleHover }
      ToolTip.visible: subtitleHover.hovered && subtitleText.truncated
      ToolTip.text: header.subtitle
    }
  }
  RowLayout {
    id: tools
    spacing: 8
    Layout.alignment: header.columns === 2 ? Qt.AlignRight | Qt.AlignVCenter : Qt.AlignLeft
  }
}
