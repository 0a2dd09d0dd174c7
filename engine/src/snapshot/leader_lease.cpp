#include "snapshot/leader_lease.h"
