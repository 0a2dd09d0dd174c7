// The convergence rule (docs/replication.md#applying), as a pure function of plain values.
//
// Every node must end with the state carried by the last message of each row in its shard
// stream (last arrival wins, whole row), and a node's own newer write must never flicker back
// to an older remote value. When a change of row R from another node arrives at stream
// sequence S, what decides is this node's own latest change of R:
//
//   own change of R                                   verdict
//   none                                              apply
//   pending, not sent yet (or sent after S arrived)   skip: ours lands later in the stream
//   sent before S arrived, ack not in yet             wait: its position is not known yet
//   sent, failed, not acked since (a publish that     wait: it may have landed all the same;
//     timed out may still have landed)                  the retry's ack tells where
//   published at sequence O > S                       skip: ours is later in the stream
//   published at O < S, sender had not seen O         apply, and record that it overwrote ours
//     (its Hl-Seen-Seq < O)
//   published at O < S, sender had seen it            apply
//
// A skip and an overwrite are conflicts: the caller records them in the conflict journal.
// Who gathers the facts: the publisher knows the own changes not published yet (their rounds),
// the state store the published ones (`__harmonylite__own`), the message its sequence and
// Hl-Seen-Seq header. The consumer asks them and applies the verdict.
// Thread: pure functions; any thread.
#pragma once

#include <QMetaType>
#include <QtGlobal>

#include <optional>

namespace hl {

// This node's latest change of a row, as far as it is not published yet.
enum class OwnPending {
  kNone,      // no own change of the row waits to be published
  kNotSent,   // waits to be sent, or was sent after the remote message arrived
  kInFlight,  // sent before the remote message arrived; the ack is not in yet
  kLostAck,   // sent, the publish failed (timeout, lost ack) and no ack came since
};

struct ConvergenceFacts {
  quint64 remoteSeq = 0;           // stream sequence of the remote change
  std::optional<quint64> seenSeq;  // sender's applied position in the shard when it sent
                                   // (Hl-Seen-Seq); none from senders that do not send it (Go)
  OwnPending pending = OwnPending::kNone;
  quint64 ownSeq = 0;  // sequence of this node's latest published change of the row that the
                       // applied position has not passed yet; 0 = none
};

enum class Verdict {
  kApply,           // apply the remote change
  kApplyOverLocal,  // apply it; it overwrites an own change the sender had not seen (conflict)
  kSkipLocalNewer,  // keep the local row: the own change is later in the stream (conflict)
  kWait,            // decide again once the publisher's round in flight has ended
};

Verdict decideConvergence(const ConvergenceFacts& facts);

// "apply", "apply-over-local", "skip-local-newer", "wait" (for test failure messages).
const char* verdictName(Verdict verdict);

}  // namespace hl
