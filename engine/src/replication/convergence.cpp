#include "replication/convergence.h"

namespace hl {

Verdict decideConvergence(const ConvergenceFacts& f) {
  switch (f.pending) {
    case OwnPending::kInFlight:
    case OwnPending::kLostAck:
      return Verdict::kWait;
    case OwnPending::kNotSent:
      return Verdict::kSkipLocalNewer;
    case OwnPending::kNone:
      break;
  }
  if (f.ownSeq > f.remoteSeq) return Verdict::kSkipLocalNewer;
  if (f.ownSeq > 0 && f.seenSeq && *f.seenSeq < f.ownSeq) return Verdict::kApplyOverLocal;
  return Verdict::kApply;
}

const char* verdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kApply:
      return "apply";
    case Verdict::kApplyOverLocal:
      return "apply-over-local";
    case Verdict::kSkipLocalNewer:
      return "skip-local-newer";
    case Verdict::kWait:
      return "wait";
  }
  return "?";
}

}  // namespace hl
