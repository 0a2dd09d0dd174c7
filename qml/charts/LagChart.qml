// Lag in messages per shard over a time range (see RateChart.qml): the last 5 minutes live from
// controller.shardLagSampleAdded, or the last hour or 24 hours from the node's history (the
// largest lag of each minute). One line per shard for up to 8 shards; with more, one line for
// their sum.
import QtQuick
import QtCharts
import HarmonyLite.Backend
import HarmonyLite.Components

ChartView {
  id: chart
  required property DashboardController controller  // from the page
  property int range: 0  // 0: 5 min live, 1: 1 h, 2: 24 h (RangeChoice)
  readonly property var spans: [300, 3600, 86400]  // seconds
  property real maxY: 10
  property var lines: []
  readonly property int lineCount: lines.length
  antialiasing: false
  legend.alignment: Qt.AlignBottom
  legend.labelColor: Theme.textMuted
  backgroundColor: Theme.surface
  plotAreaColor: Theme.surface
  margins { top: 4; bottom: 4; left: 4; right: 4 }

  // Why the axis lines silence qmllint: see RateChart.qml.
  DateTimeAxis { id: xAxis; format: chart.range === 0 ? "HH:mm:ss" : "HH:mm"; tickCount: 6; labelsColor: Theme.textMuted; gridLineColor: Theme.border }  // qmllint disable import type property
  ValueAxis { id: yAxis; min: 0; max: chart.maxY; labelFormat: "%.0f"; labelsColor: Theme.textMuted; gridLineColor: Theme.border }  // qmllint disable import type property

  readonly property var palette: ["#2563a8", "#1f8a4c", "#b86e00", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d35400"]

  // Live samples ([epoch ms, [lag per line], summed]) of the last 5 minutes, kept while hidden.
  property var samples: []

  function sampleOf(t, lags) {
    return [t, lags.length > 8 ? [lags.reduce((a, b) => a + b, 0)] : lags, lags.length > 8]
  }

  function add(t, lags) {
    samples.push(sampleOf(t, lags))
    while (samples.length > 0 && samples[0][0] < t - spans[0] * 1000) samples.shift()
    if (!visible || range !== 0) return
    const latest = samples[samples.length - 1]
    if (latest[1].length !== lines.length) { draw(); return }
    // Visible: one point more per line, the old ones out.
    for (let i = 0; i < lines.length; ++i) {
      lines[i].append(t, latest[1][i])
      while (lines[i].count > samples.length) lines[i].remove(0)
    }
    scale(samples, t)
  }

  function points() {
    if (range === 0) return samples
    const list = []
    for (const h of controller.history(spans[range] / 3600)) list.push(sampleOf(h[0], h[4]))
    return list
  }

  function scale(list, end) {
    let top = 10
    for (const sample of list)
      for (const v of sample[1]) top = Math.max(top, v)
    maxY = Math.ceil(top * 1.15)
    xAxis.min = new Date(end - spans[range] * 1000)
    xAxis.max = new Date(end)
  }

  function draw() {
    const list = points()
    if (list.length === 0) {
      for (const line of lines) line.clear()
      scale(list, Date.now())
      return
    }
    const latest = list[list.length - 1]
    const values = latest[1]
    if (values.length !== lines.length) {
      removeAllSeries()
      const made = []
      for (let i = 0; i < values.length; ++i) {
        const s = createSeries(ChartView.SeriesTypeLine, latest[2] ? "all shards" : "shard " + (i + 1), xAxis, yAxis)
        s.color = palette[i % palette.length]
        s.width = 2
        made.push(s)
      }
      lines = made
    }
    for (let i = 0; i < lines.length; ++i) lines[i].clear()
    for (const sample of list) {
      if (sample[1].length !== lines.length) continue
      for (let i = 0; i < lines.length; ++i) lines[i].append(sample[0], sample[1][i])
    }
    scale(list, range === 0 ? latest[0] : Date.now())
  }

  onVisibleChanged: if (visible) draw()
  onRangeChanged: draw()
  Timer { interval: 60000; repeat: true; running: chart.visible && chart.range !== 0; onTriggered: chart.draw() }

  Connections {
    target: chart.controller
    function onShardLagSampleAdded(t, lags) { chart.add(t, lags) }
  }
}
