//go:build !linux

package restore

import "os"

// oDirect is 0 where O_DIRECT is not available: writes are buffered.
const oDirect = 0

// willNeed is a no-op here.
func willNeed(*os.File, int64, int64) {}
